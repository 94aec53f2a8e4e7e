"""Typed configuration, passed in by the CLI or the caller; nothing here reads the environment."""
import dataclasses

from kubetfx.version import __version__

IMAGE_NAME = "kubetfx"
GPU_IMAGE_NAME = "kubetfx-gpu"


@dataclasses.dataclass(frozen=True)
class Images:
    """Where the step images come from: `<repo>/kubetfx:<tag>`, pinned by digest when known."""

    repo: str
    tag: str = __version__
    cpu_digest: str = ""
    gpu_digest: str = ""

    @property
    def cpu(self) -> str:
        return self._reference(IMAGE_NAME, self.cpu_digest)

    @property
    def gpu(self) -> str:
        return self._reference(GPU_IMAGE_NAME, self.gpu_digest)

    def _reference(self, name: str, digest: str) -> str:
        base = f"{self.repo.rstrip('/')}/{name}"
        return f"{base}@{digest}" if digest else f"{base}:{self.tag}"
