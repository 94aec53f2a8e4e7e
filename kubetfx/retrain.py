"""Retraining the recommender when the monitor asks for it: `Retrainer`s for the monitor's hook
(`kubetfx.pipelines.recommender.components.monitor.retrain`), which start the training pipeline again on new data.

Two are provided: `local` (kfp.local in this environment, what `kubetfx monitor --retrain` wires)
and `submitted` (the compiled spec through `kubetfx.submit`, onto Kubeflow Pipelines or Vertex AI).
They live in the application layer because they run pipelines; the monitor only calls the hook.
The monitor pipeline retrains in the cluster by itself: the training pipeline is nested in it.
"""
from typing import Callable

from kubetfx.components.common.errors import MonitorError
from kubetfx.pipelines.recommender.components.monitor.retrain import Retrainer, RetrainRequest

__all__ = ["RetrainRequest", "Retrainer", "local", "submitted"]


def local(run_dir: str, serving_root: str, parameters: dict | None = None) -> Retrainer:
    """Runs the recommender pipeline here with kfp.local; a blessed model is pushed to `serving_root`."""

    def retrain(request: RetrainRequest) -> str:
        from kubetfx.config import Images
        from kubetfx.pipelines import local_runner
        from kubetfx.pipelines.recommender import pipeline

        arguments = {**(parameters or {}), **request.pipeline_arguments(), "serving_root": serving_root}
        summary = local_runner.run(pipeline.create_pipeline(Images(repo="local")), arguments, run_dir)
        if summary["status"] != "succeeded":
            raise MonitorError(f"the retraining run failed in step {summary['failed_step']}: {summary['error']}")
        return f"local run in {run_dir}: blessed {summary['blessed']}, pushed to {summary['pushed_to'] or 'nothing'}"

    return retrain


def submitted(submit_run: Callable, spec_path: str, parameters: dict | None = None) -> Retrainer:
    """Submits the compiled recommender spec with the new data through `kubetfx.submit`.

    `submit_run(run_config)` is one of submit's public functions with its target bound, e.g.
    `functools.partial(submit.submit_kfp, config=KfpConfig(...), revision=..., now=..., storage_client=...)`.
    """

    def retrain(request: RetrainRequest) -> str:
        from kubetfx import submit

        run = submit.RunConfig(spec_path=spec_path, parameters={**(parameters or {}), **request.pipeline_arguments()})
        if submit_run(run) != 0:
            raise MonitorError(f"submitting {spec_path} for retraining failed; see the lines above")
        return f"submitted {spec_path}"

    return retrain
