"""Follows the serving root's LATEST pointer: a new blessed version is loaded whole in the
background and only then swapped in, so requests never wait for a load nor fail during one."""
import logging
import threading

from prometheus_client import Counter, Gauge

from kubetfx.components.common import serving
from kubetfx.components.common.integrity import IntegrityError
from kubetfx.pipelines.recommender.serving.loaded import LoadedModel

LOG = logging.getLogger("kubetfx.pipelines.recommender.serving")
RELOADS = Counter("kubetfx_model_reloads", "Newer blessed models swapped in while serving")
RELOAD_FAILURES = Counter("kubetfx_model_reload_failures", "Newer blessed models that could not be loaded")
REFUSALS = Counter("kubetfx_model_refusals", "Newer models refused for their manifest (files that do not match "
                                             "it, or none where one is required); also counted as reload failures")
POINTER_ERRORS = Counter("kubetfx_latest_pointer_errors", "Reads of the LATEST pointer that failed or found it malformed")
SERVING_LATEST = Gauge("kubetfx_serving_latest", "1 while the version served is the one LATEST names, "
                                                 "0 while LATEST names another (unloadable, malformed or unreadable)")


def load_latest(serving_root: str, require_manifest: bool = False) -> LoadedModel | None:
    """The model LATEST points to, loaded (without push's manifest, refused when `require_manifest`);
    None before the first push."""
    pointer = serving.read_latest(serving_root)
    if pointer is None:
        return None
    return LoadedModel(pointer["model_dir"], pointer["version"], require_manifest=require_manifest)


class LatestWatcher:
    """Reads LATEST every `poll_seconds` and hands each newer model to `swap`.

    A version that fails to load or is refused for its manifest (files changed; none, with
    `require_manifest`), and a pointer that cannot be read or parsed, are logged and counted once
    each and skipped until LATEST changes again; the model being served stays in place, and
    `kubetfx_serving_latest` (and `serving_latest`) say it is not the pointer's.
    Nothing a pointer holds can stop the watcher: it polls until it is stopped.
    """

    def __init__(self, serving_root: str, current_version: str, swap, poll_seconds: float,
                 require_manifest: bool = False):
        self._root, self._version, self._swap, self._poll = serving_root, current_version, swap, poll_seconds
        self._require_manifest = require_manifest
        self._failed = None  # the version, or the pointer problem, last logged: not logged again
        self.serving_latest = True
        SERVING_LATEST.set(1)
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
        except Exception as error:  # a store hiccup or a malformed pointer: retried at the next poll
            self._behind(f"the LATEST pointer under {self._root} cannot be used: {error}", str(error))
            return
        if pointer is None:
            return
        version = pointer["version"]
        if version == self._version:
            self._set_latest(True)
            return
        if version == self._failed:
            return
        try:
            loaded = LoadedModel(pointer["model_dir"], version, require_manifest=self._require_manifest)
        except Exception as error:  # a bad push must not take the served model down
            RELOAD_FAILURES.inc()
            if isinstance(error, IntegrityError):
                REFUSALS.inc()
            self._behind(f"version {version} at {pointer['model_dir']} cannot be served ({error})", version,
                         counted=False)
            return
        self._swap(loaded)
        RELOADS.inc()
        LOG.info("serve: now serving version %s (was %s)", version, self._version)
        self._version, self._failed = version, None
        self._set_latest(True)

    def _behind(self, problem: str, key: str, counted: bool = True) -> None:
        """Logs and counts a pointer that cannot be followed, once until it changes."""
        self._set_latest(False)
        if key == self._failed:
            return
        self._failed = key
        if counted:
            POINTER_ERRORS.inc()
        LOG.error("serve: %s; still serving %s", problem, self._version)

    def _set_latest(self, value: bool) -> None:
        self.serving_latest = value
        SERVING_LATEST.set(1 if value else 0)

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.check_once()
            except Exception:  # a last guard: a watcher that died would freeze serving for good
                LOG.exception("serve: checking LATEST under %s failed; retrying at the next poll", self._root)
