"""The `kubetfx serve` process: KServe's REST server (v1 and v2 protocols, health and readiness
routes, Prometheus metrics at /metrics) around the recommender predictor.

KServe's `ModelServer.start` binds every interface; kubetfx binds the configured host
(loopback by default) by running KServe's own `RESTServer` with that host. gRPC is left off, as
it too would bind every interface.
"""
import asyncio
import logging
import posixpath
import signal

from kubetfx.components.common import timing
from kubetfx.components.common.errors import ServingError
from kubetfx.pipelines.recommender.serving.config import ServeConfig
from kubetfx.pipelines.recommender.serving.loaded import LoadedModel
from kubetfx.pipelines.recommender.serving.model import RecommenderModel
from kubetfx.pipelines.recommender.serving.request_log import RequestLogger
from kubetfx.pipelines.recommender.serving.watcher import LatestWatcher, load_latest


class BodyTooLarge(Exception):
    """A request body over the configured limit."""


class OneLineRefusals(logging.Filter):
    """Turns KServe's log of a refused request (a 400 for `InvalidInput`: a full traceback each)
    into one line with the refusal's message, cut to `max_chars`; other records pass unchanged."""

    def __init__(self, max_chars: int = 300):
        super().__init__()
        self.max_chars = max_chars

    def filter(self, record: logging.LogRecord) -> bool:
        from kserve.errors import InvalidInput

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, InvalidInput):
            message = str(error)
            if len(message) > self.max_chars:
                message = message[:self.max_chars] + "..."
            record.msg, record.args, record.exc_info, record.exc_text = "refused a request (400): %s", (message,), None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class BodyLimit:
    """ASGI middleware that refuses bodies over `max_bytes` before anything parses them: by the
    declared Content-Length, or, for chunked bodies, by counting as the bytes arrive."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            return await _refuse(send, self._message(declared.decode("latin-1")))
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge(self._message(f"more than {received}"))
            return message

        await self.app(scope, counting_receive, send)

    def _message(self, size: str) -> str:
        return f"request body of {size} bytes is over the limit of {self.max_bytes} bytes; send fewer instances per request"


async def _refuse(send, message: str) -> None:
    import orjson

    body = orjson.dumps({"error": message})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _body_too_large(_, error: BodyTooLarge):
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=413, content={"error": str(error)})


def first_model(config: ServeConfig) -> LoadedModel:
    """The model to start with: the fixed folder, or what LATEST points to."""
    if config.model_dir:
        return LoadedModel(config.model_dir, config.model_version or posixpath.basename(config.model_dir.rstrip("/")),
                           require_manifest=config.require_manifest)
    loaded = load_latest(config.serving_root, require_manifest=config.require_manifest)
    if loaded is None:
        raise ServingError(f"nothing to serve: no blessed model has been pushed to '{config.serving_root}' "
                           "(it has no LATEST pointer); run the pipeline first, e.g. `kubetfx run`")
    return loaded


def serve(config: ServeConfig) -> None:
    """Loads the model, then serves until SIGINT or SIGTERM; reloads on new pushes meanwhile."""
    timing.configure_logging()
    with timing.stage("serve", "loading the model"):
        loaded = first_model(config)
    request_log = RequestLogger(config.request_log) if config.request_log else None
    model = RecommenderModel(config, loaded, request_log)
    watcher = (LatestWatcher(config.serving_root, loaded.version, model.swap, config.poll_seconds,
                             require_manifest=config.require_manifest).start()
               if config.serving_root else None)
    timing.LOG.info("[serve] version %s of '%s' at http://%s:%d/v1/models/%s:predict",
                    loaded.version, config.model_name, config.host, config.port, config.model_name)
    # uvicorn stops gracefully on SIGTERM, then raises it again; exiting through Python rather
    # than the default handler (which kills at once) lets the request log write what it holds.
    signal.signal(signal.SIGTERM, _exit)
    try:
        asyncio.run(_rest_server(config, model).start())
    finally:
        if watcher:
            watcher.stop()
        if request_log:
            request_log.close()


def _exit(signum, frame):
    raise SystemExit(0)


def _rest_server(config: ServeConfig, model: RecommenderModel):
    from kserve import ModelServer
    from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
    from kserve.model_server import app
    from kserve.protocol.rest.server import RESTServer

    server = ModelServer(http_port=config.port, enable_grpc=False, workers=1, enable_latency_logging=False)
    server.register_model(model)
    rest = RESTServer(FASTAPI_APP_IMPORT_STRING, server.dataplane, server.model_repository_extension, config.port)
    rest.config.host = config.host
    # No line per request from uvicorn's access log nor KServe's timing middleware: /metrics
    # counts and times requests, and the request log keeps them.
    for name in ("uvicorn.access", "kserve.trace"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("kserve").addFilter(OneLineRefusals())
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    if config.auth_token:  # added last, so outermost: a request without the token is refused before anything reads it
        from kubetfx.pipelines.recommender.serving.auth import BearerAuth

        app.add_middleware(BearerAuth, token=config.auth_token)
    return rest
