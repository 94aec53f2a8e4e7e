"""KFP interface of latest_blessed (the serving root's champion as a model artifact); the work is in
`executor.py`."""
from kfp.dsl import Model, Output

from kubetfx.components.common.kfp_glue import build_component


def latest_blessed(serving_root: str, model: Output[Model], require_manifest: bool = False) -> bool:
    """Resolves the serving root's LATEST pointer into a model artifact: the champion, with lineage.

    Before the first push there is none: the model is an empty folder with metadata found: false and
    the step returns False; the evaluator takes such a baseline_model as none (value thresholds only),
    and a pipeline may also branch on the output (dsl.If).
    Turn caching off for this task (task.set_caching_options(False)): its answer changes when push
    moves LATEST, which its input does not show; the steps that take the champion may stay cached.

    Args:
        serving_root: The folder or gs:// prefix push writes to (one folder per version, LATEST).
        model: The champion's SavedModel under Format-Serving/, as TFX lays a Model out (metadata:
            found, version, serving_root, source, and the lineage push recorded).
        require_manifest: Refuse a champion without push's MANIFEST.json (pushed before push wrote
            one), naming its folder, instead of taking it unverified; push it again to give it one.

    Returns:
        Whether a champion was found.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.latest_blessed import executor

    figures = executor.run(serving_root, model.path, require_manifest=require_manifest)
    record(model, figures)
    return figures[executor.META_FOUND]


def build(image: str):
    return build_component(latest_blessed, image)
