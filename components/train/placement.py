"""Where the trainer runs, fixed when the pipeline is compiled (the train component's `placement`):

- `pod`: in the step's own pod, on one device or all of its GPUs; also each worker of a Vertex AI
  custom job, which the environment (`CLUSTER_SPEC`) places in its cluster;
- `tfjob`: in the pods of a Kubeflow TFJob that the step, a small launcher, creates and follows.
"""
from typing import Callable, Mapping

from kubetfx.components.train.args import TrainArgs
from kubetfx.config import TrainingConfig

POD = "pod"
TFJOB = "tfjob"
PLACEMENTS = (POD, TFJOB)


def locate(placement: str) -> Callable:
    """How an artifact reaches the trainer: its local path in the step's own pod (where KFP copies
    or mounts it), its URI in a TFJob's pods (which reach object storage themselves)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, not '{placement}'")
    return (lambda artifact: artifact.uri) if placement == TFJOB else (lambda artifact: artifact.path)


def run(placement: str, args: TrainArgs, environ: Mapping[str, str], trainer_image: str = "",
        training: dict | None = None) -> dict:
    """Trains where `placement` says; returns the chief's figures. A TFJob's workers run
    `trainer_image` with `training` (a `TrainingConfig.to_dict()`)."""
    if placement == TFJOB:
        from kubetfx.components.train import launcher

        config = TrainingConfig.from_dict(training or {})
        return launcher.launch(args, trainer_image, config, config.namespace or launcher.own_namespace(),
                               launcher.KubernetesApis.connect())
    from kubetfx.components.train import executor

    return executor.run(args, environ)
