"""The request log: every prediction's features and answer, as JSON lines, for the monitor.

The request path only puts a record on a bounded queue (never waits: when the queue is full the
record is dropped and counted); one background thread hashes user ids, encodes and writes. Files
are rotated by count and age, each written whole under a temporary name and then renamed, so a
reader (the monitor) never sees half a file, and the same code writes to local folders and to
`gs://`, where objects cannot be appended to. Files go to `<log_root>/<YYYY-MM-DD>/` (UTC), so a
day's traffic is one folder.

User ids never reach a file: each is replaced by an HMAC-SHA256 of the id keyed with the
configured salt. Feature values the model takes (age, gender, ...) are kept, as the monitor
compares their distribution with training's.
"""
import datetime
import hashlib
import hmac
import itertools
import json
import logging
import os
import queue
import threading
import time
import uuid

from prometheus_client import Counter

from kubetfx.components.common import fs, names
from kubetfx.pipelines.recommender.serving.config import RequestLogConfig

LOG = logging.getLogger("kubetfx.pipelines.recommender.serving")
USER_FIELD = "user"  # the hashed user id in a logged record
_STOP = object()
_HASH_HEX_CHARS = 32  # 128 bits: no collisions among any realistic number of users

LOGGED = Counter("kubetfx_request_log_records", "Prediction records written to the request log")
DROPPED = Counter("kubetfx_request_log_dropped", "Prediction records dropped: the log's queue was full or a write failed")


def read_salt(uri: str) -> bytes:
    """The salt kept in a file (a mounted Kubernetes secret, or a gs:// object), surrounding blanks removed."""
    if not fs.exists(uri):
        raise ValueError(f"salt file '{uri}' does not exist or cannot be read")
    with fs.gfile().GFile(uri, "rb") as f:
        return f.read().strip()


def hash_user(user_id: str, salt: bytes) -> str:
    """The keyed hash that stands for a user id in the logs (the monitor computes the same)."""
    return hmac.new(salt, user_id.encode("utf-8"), hashlib.sha256).hexdigest()[:_HASH_HEX_CHARS]


class RequestLogger:
    """Queues records from the request path and writes them in rotated files from one thread."""

    def __init__(self, config: RequestLogConfig):
        self._config = config
        self._queue = queue.Queue(maxsize=config.queue_size)
        self._sequence = itertools.count()
        self._run_id = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"  # keeps names unique across replicas
        self._thread = threading.Thread(target=self._write_forever, name="kubetfx-request-log", daemon=True)
        self._thread.start()

    def log(self, record: dict, user_id: str | None = None) -> None:
        """Hands one record to the writer without waiting; `user_id` is hashed before anything is written."""
        try:
            self._queue.put_nowait((record, user_id))
        except queue.Full:
            DROPPED.inc()

    def close(self, timeout: float = 30.0) -> None:
        """Writes what is queued and stops the writer."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            LOG.warning("request log: the writer did not drain its queue in %.0f s; records still queued are lost", timeout)
            return
        self._thread.join(timeout)

    def _write_forever(self) -> None:
        lines, opened = [], 0.0
        while True:
            wait = max(0.0, opened + self._config.seconds_per_file - time.monotonic()) if lines else None
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None  # the open file's time is up
            if item is _STOP:
                self._write(lines)
                return
            if item is not None:
                opened = opened if lines else time.monotonic()
                lines.append(self._encode(*item))
            if lines and (item is None or len(lines) >= self._config.records_per_file):
                self._write(lines)
                lines = []

    def _encode(self, record: dict, user_id: str | None) -> str:
        if user_id is not None:
            record = {USER_FIELD: hash_user(user_id, self._config.salt), **record}
        return json.dumps(record, separators=(",", ":"), default=_plain)

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        now = datetime.datetime.now(datetime.timezone.utc)
        folder = fs.join(self._config.log_root, now.strftime("%Y-%m-%d"))
        name = f"{names.REQUEST_LOG_PREFIX}{now.strftime('%Y%m%dT%H%M%S')}-{self._run_id}-{next(self._sequence):06d}"
        temporary = fs.join(folder, f".{name}.tmp")
        try:
            fs.write_text(temporary, "\n".join(lines) + "\n")
            fs.gfile().rename(temporary, fs.join(folder, name + names.REQUEST_LOG_SUFFIX), overwrite=False)
            LOGGED.inc(len(lines))
        except Exception as error:  # a failing store must not stop serving; the loss is counted
            DROPPED.inc(len(lines))
            LOG.warning("request log: writing %d records to %s failed: %s", len(lines), folder, error)


def _plain(value):
    """numpy scalars (from tensors) as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot log {type(value).__name__} as JSON")
