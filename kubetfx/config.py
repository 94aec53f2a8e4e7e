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
    every_step: str = ""  # one image reference for all steps: a local run, where the CPU image trains too

    @property
    def cpu(self) -> str:
        return self.every_step or self._reference(IMAGE_NAME, self.cpu_digest)

    @property
    def gpu(self) -> str:
        return self.every_step or self._reference(GPU_IMAGE_NAME, self.gpu_digest)

    def _reference(self, name: str, digest: str) -> str:
        base = f"{self.repo.rstrip('/')}/{name}"
        return f"{base}@{digest}" if digest else f"{base}:{self.tag}"


# Where the train step runs. The defaults compile a single-GPU trainer that any Kubernetes node
# offering `nvidia.com/gpu` can take, and an n1-standard-8 with one T4 on Vertex AI.
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TYPE_LABEL = "cloud.google.com/gke-accelerator"  # GKE's node label; GPU Feature Discovery: nvidia.com/gpu.product
VERTEX_MACHINE_TYPE = "n1-standard-8"
VERTEX_DEFAULT_GPU = "NVIDIA_TESLA_T4"  # Vertex AI needs a GPU model; T4s attach to n1 machines


@dataclasses.dataclass(frozen=True)
class Toleration:
    """A Kubernetes toleration: `key`, with `value` (operator Equal) or without (operator Exists)."""

    key: str
    value: str = ""
    effect: str = ""  # NoSchedule, PreferNoSchedule, NoExecute; empty: every effect

    @classmethod
    def parse(cls, text: str) -> "Toleration":
        """Reads `KEY[=VALUE][:EFFECT]`, e.g. `nvidia.com/gpu:NoSchedule` or `pool=gpu:NoSchedule`."""
        key_value, _, effect = text.partition(":")
        key, _, value = key_value.partition("=")
        if not key:
            raise ValueError(f"toleration '{text}' names no key: write KEY[=VALUE][:EFFECT]")
        return cls(key=key, value=value, effect=effect)

    @property
    def operator(self) -> str:
        return "Equal" if self.value else "Exists"

    def to_kubernetes(self) -> dict:
        """The toleration as a pod spec has it."""
        fields = {"key": self.key, "operator": self.operator, "value": self.value, "effect": self.effect}
        return {name: value for name, value in fields.items() if value}


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Where and on what the train step runs, chosen at compile time.

    Resources are per worker. `workers` > 1 trains with MultiWorkerMirroredStrategy: on Kubeflow
    through a TFJob (the Kubeflow Training Operator), on Vertex AI as a custom job's worker pools.
    """

    workers: int = 1
    gpu_count: int = 1  # 0: a CPU-only trainer
    gpu_type: str = ""  # e.g. nvidia-tesla-a100 (a GKE accelerator name); empty: any GPU node
    gpu_resource: str = GPU_RESOURCE
    gpu_type_label: str = GPU_TYPE_LABEL
    cpu_request: str = "4"
    cpu_limit: str = ""  # empty: none, so that TensorFlow's input threads are never throttled
    memory_request: str = "16G"
    memory_limit: str = ""  # empty: the request (memory cannot be reclaimed; going over it risks an OOM kill)
    node_selectors: dict[str, str] = dataclasses.field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    machine_type: str = VERTEX_MACHINE_TYPE  # Vertex AI; A100s need a2-highgpu-*, L4s g2-standard-*
    namespace: str = ""  # of the TFJob; empty: the launcher pod's own
    service_account: str = ""  # of the TFJob's pods; empty: the namespace's default
    max_restarts: int = 3  # TFJob restarts after a pod fails (a preempted worker), before the step fails

    def __post_init__(self):
        if self.workers < 1 or self.gpu_count < 0:
            raise ValueError(f"workers must be at least 1 and gpu_count at least 0, not {self.workers} and {self.gpu_count}")

    @property
    def memory_limit_or_request(self) -> str:
        return self.memory_limit or self.memory_request

    @property
    def all_node_selectors(self) -> dict[str, str]:
        """The node selectors asked for, plus the GPU model's label when a model is named."""
        selectors = dict(self.node_selectors)
        if self.gpu_type and self.gpu_count:
            selectors[self.gpu_type_label] = self.gpu_type
        return selectors

    @property
    def vertex_accelerator_type(self) -> str:
        """Vertex AI's name of the GPU model: nvidia-tesla-a100 is NVIDIA_TESLA_A100."""
        return self.gpu_type.upper().replace("-", "_") if self.gpu_type else VERTEX_DEFAULT_GPU

    def to_dict(self) -> dict:
        """Plain values (JSON's types), as a compiled pipeline carries them to the launcher."""
        values = dataclasses.asdict(self)
        values["tolerations"] = list(values["tolerations"])
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "TrainingConfig":
        """Reads `to_dict`'s values back; a compiled pipeline hands every number over as a float."""
        integers = {field.name for field in dataclasses.fields(cls) if field.type is int}
        values = {name: int(value) if name in integers else value for name, value in values.items()}
        return cls(**{**values, "tolerations": tuple(Toleration(**t) for t in values.get("tolerations", ()))})
