"""KFP interface of the push step; the work is in `executor.py`."""
import functools

from kfp.dsl import Input, Markdown, Model, Output

from kubetfx.components.common.artifacts import ModelBlessing
from kubetfx.components.common.kfp_glue import build_component


def push(
    model: Input[Model],
    blessing: Input[ModelBlessing],
    serving_root: str,
    serving_image: str,
    pushed_model: Output[Model],
    report: Output[Markdown],
    request_log_root: str = "",
    request_log_salt_uri: str = "",
    require_token: bool = False,
    canary_traffic_percent: int = 0,
    run_id: str = "",
    run_name: str = "",
    interactions_uri: str = "",
    users_uri: str = "",
    items_uri: str = "",
):
    """Copies a blessed model to a new version under the serving root, then moves the LATEST pointer.

    Args:
        model: The trained model from train.
        blessing: The blessing from evaluate; push refuses a model that is not blessed.
        serving_root: Local folder or gs:// prefix the serving side reads (one folder per version).
        serving_image: The image that runs `kubetfx serve` in the manifests (set at compile time).
        request_log_root: Where the served model logs requests, in the manifests (gs://); empty: no log.
        request_log_salt_uri: The salt user ids are hashed with in that log (a gs:// object, or the
            file of the mounted Kubernetes Secret on KServe); required with request_log_root.
        require_token: The KServe manifest makes `kubetfx serve` require a bearer token, read from the
            Secret kubetfx-serving-token (the pod does not start without it).
        canary_traffic_percent: The share of traffic (0 to 100) KServe sends to the new version while the
            previous one keeps the rest; 0 or 100: all of it once ready.
        run_id: The pipeline run that made the model (the pipeline passes KFP's run id), for the lineage.
        run_name: That run's name, for the lineage.
        interactions_uri: The data the model was trained on, for the lineage (with users_uri, items_uri).
        users_uri: The user table of that run; empty for none.
        items_uri: The item table of that run; empty for none.
        pushed_model: Where the model went (metadata: pushed_to, version); holds the KServe
            InferenceService and the Vertex AI upload request of the new version.
        report: Where the model went and what it replaced.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.push import executor
    from kubetfx.components.push.manifests import DeployConfig
    from kubetfx.components.train.executor import serving_model_dir

    deploy = DeployConfig(serving_image=serving_image, request_log_root=request_log_root,
                          request_log_salt_uri=request_log_salt_uri, require_token=require_token,
                          canary_traffic_percent=canary_traffic_percent)
    lineage = executor.run_lineage(run_id, run_name, interactions_uri=interactions_uri, users_uri=users_uri,
                                   items_uri=items_uri)
    figures = executor.run(serving_model_dir(model.path), blessing.path, serving_root, report.path,
                           deploy_uri=pushed_model.path, deploy=deploy, lineage=lineage)
    record(pushed_model, figures)
    record(report, figures)


def build(image: str):
    """The push step on `image`; the same image serves the model, so the manifests name it too."""
    return functools.partial(build_component(push, image), serving_image=image)
