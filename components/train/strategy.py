"""Picks the trainer's `tf.distribute` strategy from where it runs.

- A cluster described by `TF_CONFIG` (the Kubeflow Training Operator's TFJob, Vertex AI) or by
  Vertex AI's `CLUSTER_SPEC`: `MultiWorkerMirroredStrategy`, every worker using all its GPUs.
- Several local GPUs: `MirroredStrategy` over all of them.
- Asked for `cpu_replicas` > 1 (tests, benchmarks): `MirroredStrategy` over that many logical CPUs.
- Otherwise one device (the default strategy: the GPU if there is one, else the CPU).

The environment is passed in as a mapping, read when the trainer starts, never at import.
"""
import dataclasses
import json
from typing import Any, Mapping

from kubetfx.components.common import names, timing
from kubetfx.components.common.errors import KubetfxError

CHIEF = "chief"
WORKER = "worker"
# Other spellings of the two roles MultiWorkerMirroredStrategy knows: AI Platform's "master",
# and Vertex AI's worker pools in CLUSTER_SPEC (pool 0 holds the chief, pool 1 the workers).
_ROLE_ALIASES = {"master": CHIEF, "workerpool0": CHIEF, "workerpool1": WORKER}


@dataclasses.dataclass(frozen=True)
class ClusterTask:
    """This process's place in a training cluster: the cluster by role, and its own role and index."""

    cluster: dict[str, list[str]]
    role: str
    index: int

    @property
    def workers(self) -> int:
        return sum(len(addresses) for addresses in self.cluster.values())

    @property
    def is_chief(self) -> bool:
        """The chief, or worker 0 when no chief is named (TensorFlow's own rule)."""
        return self.role == CHIEF or (self.role == WORKER and self.index == 0 and CHIEF not in self.cluster)


@dataclasses.dataclass(frozen=True)
class Distribution:
    """The strategy `run_fn` builds in, and whether this process writes the step's outputs."""

    strategy: Any
    is_chief: bool
    description: str
    setup_seconds: float


def cluster_task(environ: Mapping[str, str]) -> ClusterTask | None:
    """The cluster `TF_CONFIG` or `CLUSTER_SPEC` describes, or None when training on one machine."""
    text = environ.get(names.ENV_TF_CONFIG) or environ.get(names.ENV_CLUSTER_SPEC)
    if not text:
        return None
    try:
        spec = json.loads(text)
        cluster = {_ROLE_ALIASES.get(role, role): list(addresses) for role, addresses in spec["cluster"].items()}
        role, index = _ROLE_ALIASES.get(spec["task"]["type"], spec["task"]["type"]), int(spec["task"]["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise KubetfxError(f"the cluster description ({names.ENV_TF_CONFIG} or {names.ENV_CLUSTER_SPEC}) "
                           f"is not JSON with 'cluster' and 'task' {{'type', 'index'}}: {error}") from None
    # An evaluator or parameter server has no part in synchronous all-reduce training.
    cluster = {r: addresses for r, addresses in cluster.items() if r in (CHIEF, WORKER)}
    if role not in cluster:
        raise KubetfxError(f"this task is a '{role}'; kubetfx trains with MultiWorkerMirroredStrategy, "
                           f"whose tasks are '{CHIEF}' and '{WORKER}'")
    task = ClusterTask(cluster, role, index)
    return task if task.workers > 1 else None


def choose(environ: Mapping[str, str], cpu_replicas: int = 0) -> Distribution:
    """Creates the strategy for this process; call it before any other TensorFlow work.

    MultiWorkerMirroredStrategy configures collective ops, and logical CPUs are carved out of the
    CPU, both of which TensorFlow only allows before its runtime has started.
    """
    import tensorflow as tf

    watch = timing.Stopwatch()  # after the import: what the strategy itself costs (a cluster's start-up)
    strategy, is_chief, description = _create(tf, cluster_task(environ), cpu_replicas)
    return Distribution(strategy, is_chief, description, watch.seconds)


def _create(tf, task: ClusterTask | None, cpu_replicas: int) -> tuple[Any, bool, str]:
    if task:
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(task.cluster), task_type=task.role, task_id=task.index, rpc_layer="grpc")
        strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
        return strategy, task.is_chief, (f"MultiWorkerMirroredStrategy: {task.role} {task.index} of "
                                         f"{task.workers} workers, {strategy.num_replicas_in_sync} replicas")
    if cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
        devices = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices), True, f"MirroredStrategy over {len(devices)} logical CPUs"
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), True, f"MirroredStrategy over {len(gpus)} GPUs"
    return tf.distribute.get_strategy(), True, "one device (" + ("GPU" if gpus else "CPU") + ")"
