"""Wall time and progress lines for the steps' logs (what `kubectl logs` and the KFP UI show)."""
import contextlib
import logging
import sys
import time

LOG = logging.getLogger("kubetfx")


def configure_logging() -> None:
    """Sends kubetfx's progress lines to stderr once per process."""
    if LOG.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s kubetfx %(message)s", "%H:%M:%S"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False


class Stopwatch:
    """Measures a step's wall time from construction."""

    def __init__(self):
        self._start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self._start, 3)


@contextlib.contextmanager
def stage(step: str, what: str):
    """Logs the start and the end (with seconds) of one stage of a step."""
    configure_logging()
    LOG.info("[%s] %s ...", step, what)
    watch = Stopwatch()
    yield
    LOG.info("[%s] %s done in %.1f s", step, what, watch.seconds)
