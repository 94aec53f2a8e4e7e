"""Bearer-token access to `kubetfx serve` (`--auth-token-file`).

An ASGI middleware in front of everything else: a request without `Authorization: Bearer <token>`
(or with another token) gets 401 before its body is read, so nothing of it reaches the model nor
the request log; one log line and a Prometheus counter record the refusal (the method and path,
never the header's value). Kubernetes' probes carry no token, so the health and readiness routes
stay open; they say nothing about users or the model beyond being up.

The token is compared in constant time. It comes from a file: a mounted Kubernetes Secret
(push's InferenceService mounts `kubetfx-serving-token`), so it never appears in a command line.
"""
import hmac
import logging

from prometheus_client import Counter

from kubetfx.components.common import names

LOG = logging.getLogger("kubetfx.pipelines.recommender.serving")
MIN_TOKEN_BYTES = 16  # shorter tokens can be guessed
REFUSED = Counter("kubetfx_auth_refused", "Requests refused for a missing or wrong bearer token")
OPEN_PATHS = frozenset({"/", "/v2/health/live", "/v2/health/ready", f"/v2/models/{names.SERVING_MODEL_NAME}/ready"})


def read_token(path: str) -> str:
    """The token in `path` (surrounding blanks removed), checked to be long enough."""
    from kubetfx.components.common import fs

    if not fs.exists(path):
        raise ValueError(f"auth token file '{path}' does not exist or cannot be read")
    token = fs.read_text(path).strip()
    if len(token.encode()) < MIN_TOKEN_BYTES:
        raise ValueError(f"the auth token in '{path}' is {len(token.encode())} bytes; it must be at least "
                         f"{MIN_TOKEN_BYTES} (e.g. `openssl rand -hex 32 > {path}`)")
    if any(character.isspace() for character in token):
        raise ValueError(f"the auth token in '{path}' contains blanks; an HTTP header cannot carry it as one token")
    return token


class BearerAuth:
    """Refuses every request but the open probes unless it carries `Authorization: Bearer <token>`."""

    def __init__(self, app, token: str):
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            return await self.app(scope, receive, send)
        REFUSED.inc()
        LOG.warning("serve: refused %s %s: %s bearer token", scope.get("method", "?"), scope.get("path", "?"),
                    "wrong" if given else "no")
        await _unauthorized(send)


async def _unauthorized(send) -> None:
    body = b'{"error": "unauthorized: send the header Authorization: Bearer <token>"}'
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Bearer realm="kubetfx"')]})
    await send({"type": "http.response.body", "body": body})
