"""KFP interface of the push step; the work is in `executor.py`."""
import functools

from kfp.dsl import Artifact, Input, Markdown, Model, Output

from kubetfx.components.common.kfp_glue import build_component


def push(
    model: Input[Model],
    blessing: Input[Artifact],
    serving_root: str,
    serving_image: str,
    pushed_model: Output[Model],
    report: Output[Markdown],
    request_log_root: str = "",
    request_log_salt_uri: str = "",
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
        pushed_model: Where the model went (metadata: pushed_to, version); holds the KServe
            InferenceService and the Vertex AI upload request of the new version.
        report: Where the model went and what it replaced.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.push import executor
    from kubetfx.components.push.manifests import DeployConfig
    from kubetfx.components.train.executor import serving_model_dir

    deploy = DeployConfig(serving_image=serving_image, request_log_root=request_log_root,
                          request_log_salt_uri=request_log_salt_uri)
    figures = executor.run(serving_model_dir(model.path), blessing.path, serving_root, report.path,
                           deploy_uri=pushed_model.path, deploy=deploy)
    record(pushed_model, figures)
    record(report, figures)


def build(image: str):
    """The push step on `image`; the same image serves the model, so the manifests name it too."""
    return functools.partial(build_component(push, image), serving_image=image)
