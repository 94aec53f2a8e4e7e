"""Follows the serving root's LATEST pointer: a new blessed version is loaded whole in the
background and only then swapped in, so requests never wait for a load nor fail during one."""
import logging
import threading

from prometheus_client import Counter

from kubetfx.components.common import serving
from kubetfx.serving.loaded import LoadedModel

LOG = logging.getLogger("kubetfx.serving")
RELOADS = Counter("kubetfx_model_reloads", "Newer blessed models swapped in while serving")
RELOAD_FAILURES = Counter("kubetfx_model_reload_failures", "Newer blessed models that could not be loaded")


def load_latest(serving_root: str) -> LoadedModel | None:
    """The model LATEST points to, loaded; None before the first push."""
    pointer = serving.read_latest(serving_root)
    if pointer is None:
        return None
    return LoadedModel(pointer["model_dir"], str(pointer["version"]))


class LatestWatcher:
    """Reads LATEST every `poll_seconds` and hands each newer model to `swap`.

    A version that fails to load is logged and counted once and skipped until LATEST moves
    again; the model being served stays in place.
    """

    def __init__(self, serving_root: str, current_version: str, swap, poll_seconds: float):
        self._root, self._version, self._swap, self._poll = serving_root, current_version, swap, poll_seconds
        self._failed = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="kubetfx-latest-watcher", daemon=True)

    def start(self) -> "LatestWatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def check_once(self) -> None:
        """Swaps in the model LATEST points to if it is newer than the one served."""
        try:
            pointer = serving.read_latest(self._root)
        except Exception as error:  # an unreadable pointer (a store hiccup) is retried at the next poll
            LOG.warning("serve: reading the LATEST pointer under %s failed: %s", self._root, error)
            return
        version = str(pointer["version"]) if pointer else None
        if version is None or version in (self._version, self._failed):
            return
        try:
            loaded = LoadedModel(pointer["model_dir"], version)
        except Exception as error:  # a bad push must not take the served model down
            self._failed = version
            RELOAD_FAILURES.inc()
            LOG.error("serve: version %s at %s cannot be served (%s); still serving %s",
                      version, pointer["model_dir"], error, self._version)
            return
        self._swap(loaded)
        RELOADS.inc()
        LOG.info("serve: now serving version %s (was %s)", version, self._version)
        self._version = version

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            self.check_once()
