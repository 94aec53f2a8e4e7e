"""What every thin KFP interface shares: building it on the project's image, and copying an
executor's results onto KFP artifacts."""
from typing import Callable

from kfp import dsl


def build_component(func: Callable, image: str):
    """Makes a KFP component of `func` that runs on `image`.

    The image already holds kfp and kubetfx, so nothing is pip-installed when the step starts.
    """
    return dsl.component(func=func, base_image=image, install_kfp_package=False)


def record(artifact, metadata: dict) -> None:
    """Adds an executor's figures to an artifact's metadata (shown in the KFP UI)."""
    artifact.metadata.update(metadata)


def log_metrics(metrics_artifact, metrics: dict) -> None:
    for name, value in metrics.items():
        metrics_artifact.log_metric(name, float(value))
