"""KFP interface of the push step; the work is in `executor.py`."""
from kfp.dsl import Artifact, Input, Markdown, Model, Output

from kubetfx.components.common.kfp_glue import build_component


def push(
    model: Input[Model],
    blessing: Input[Artifact],
    serving_root: str,
    pushed_model: Output[Model],
    report: Output[Markdown],
):
    """Copies a blessed model to a new version under the serving root, then moves the LATEST pointer.

    Args:
        model: The trained model from train.
        blessing: The blessing from evaluate; push refuses a model that is not blessed.
        serving_root: Local folder or gs:// prefix the serving side reads (one folder per version).
        pushed_model: Where the model went (metadata: pushed_to, version).
        report: Where the model went and what it replaced.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.push import executor
    from kubetfx.components.train.executor import serving_model_dir

    figures = executor.run(serving_model_dir(model.path), blessing.path, serving_root, report.path)
    record(pushed_model, figures)
    record(report, figures)


def build(image: str):
    return build_component(push, image)
