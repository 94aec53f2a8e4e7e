"""`kubetfx serve` as a child process on loopback, for the tests and the load benchmark.

Kept apart from `server` so that a client imports neither TensorFlow nor KServe.
"""
import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from kubetfx.components.common import names
from kubetfx.components.common.errors import ServingError
from kubetfx.pipelines.recommender.serving.config import LOOPBACK


def free_port() -> int:
    """A TCP port free on loopback at the time of asking."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(serve_args: list[str], output_path: str, timeout: float = 120.0):
    """Runs `kubetfx serve <serve_args> --port <free port>` as a child process on loopback until
    the block ends (then SIGTERM, so it flushes its request log); yields the base URL once the
    model is ready. The child's output goes to `output_path`."""
    port = free_port()
    command = [sys.executable, "-m", "kubetfx", "serve", *serve_args, "--host", LOOPBACK, "--port", str(port)]
    with open(output_path, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://{LOOPBACK}:{port}"
    try:
        wait_ready(base_url, names.SERVING_MODEL_NAME, timeout, process)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(base_url: str, model_name: str, timeout: float, process=None) -> None:
    """Waits until the model answers KServe's readiness route; fails early if `process` exits."""
    deadline = time.monotonic() + timeout
    url = f"{base_url}/v2/models/{model_name}/ready"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServingError(f"the server exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise ServingError(f"the server at {base_url} was not ready after {timeout:.0f} s")
