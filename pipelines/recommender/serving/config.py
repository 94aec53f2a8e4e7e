"""Typed settings of `kubetfx serve`, built by the CLI or a caller; nothing here reads the environment."""
import dataclasses

from kubetfx.components.common import names

LOOPBACK = "127.0.0.1"


@dataclasses.dataclass(frozen=True)
class RequestLogConfig:
    """Where and how predictions are logged for monitoring.

    User ids are stored only as a keyed hash (HMAC-SHA256 with `salt`), so the logs hold no raw
    id while the monitor, given the same salt, can still tell known users from new ones.
    """

    log_root: str  # local folder or gs:// prefix
    salt: bytes
    queue_size: int = 10_000  # records waiting for the writer; beyond it records are dropped and counted
    records_per_file: int = 5_000  # a file is closed (rotated) at this many records ...
    seconds_per_file: float = 60.0  # ... or this long after its first record, whichever comes first

    def __post_init__(self):
        if not self.log_root:
            raise ValueError("the request log needs a log root (a folder or gs:// prefix)")
        if not self.salt:
            raise ValueError("the request log needs a salt to hash user ids with: pass --request-log-salt-file FILE "
                             "(at least 16 random bytes, e.g. `head -c 32 /dev/urandom | base64 > FILE`)")
        if len(self.salt) < 16:
            raise ValueError("the request log's salt must be at least 16 bytes, so that hashed user ids cannot be "
                             "reversed by trying every id")
        if self.queue_size < 1 or self.records_per_file < 1 or self.seconds_per_file <= 0:
            raise ValueError("queue_size, records_per_file and seconds_per_file must be positive")


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """What `kubetfx serve` serves and how.

    Exactly one of `serving_root` (follow its LATEST pointer, reloading on every push) and
    `model_dir` (one fixed SavedModel, as in a KServe or Vertex AI container whose storage
    initializer has copied the model in) is set.
    """

    serving_root: str = ""
    model_dir: str = ""
    model_version: str = ""  # what a fixed `model_dir` answers as its version; empty: the folder's name
    host: str = LOOPBACK
    port: int = names.SERVING_PORT
    model_name: str = names.SERVING_MODEL_NAME
    poll_seconds: float = 5.0  # how often the LATEST pointer is read
    default_k: int = 10
    max_instances: int = 256  # per request
    max_body_bytes: int = 1_000_000
    request_log: RequestLogConfig | None = None
    # True: a version without push's MANIFEST.json is refused (at start, and on reload: the served
    # one stays); false: it is served unverified with a warning (versions pushed before manifests).
    require_manifest: bool = False
    # Non-empty: every request but the health probes needs `Authorization: Bearer <auth_token>`
    # (kubetfx.pipelines.recommender.serving.auth); kept out of repr so that it never reaches a log.
    auth_token: str = dataclasses.field(default="", repr=False)

    def __post_init__(self):
        if bool(self.serving_root) == bool(self.model_dir):
            raise ValueError("serve needs either a serving root (follows LATEST) or a model folder, not both or neither")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port {self.port} is not a TCP port")
        if self.poll_seconds <= 0 or self.default_k < 1 or self.max_instances < 1 or self.max_body_bytes < 1:
            raise ValueError("poll_seconds, default_k, max_instances and max_body_bytes must be positive")
