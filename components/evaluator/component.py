"""KFP interface of the generic evaluator (TFX's Evaluator); the work is in `executor.py`."""
from typing import Optional

from kfp.dsl import Input, Markdown, Metrics, Model, Output

from kubetfx.components.common.artifacts import Examples, ModelBlessing, ModelEvaluation
from kubetfx.components.common.kfp_glue import build_component


def evaluator(
    model: Input[Model],
    examples: Input[Examples],
    eval_config: str,
    beam_pipeline_args: list,
    evaluation: Output[ModelEvaluation],
    blessing: Output[ModelBlessing],
    metrics: Output[Metrics],
    report: Output[Markdown],
    baseline_model: Optional[Input[Model]] = None,
) -> bool:
    """Evaluates a model with TFX's Evaluator (TensorFlow Model Analysis) and the user's EvalConfig.

    Blessed only when the EvalConfig sets thresholds and every one holds on every slice; change
    thresholds compare with `baseline_model` (e.g. the serving model) and are skipped without one.

    Args:
        model: The trained model (its SavedModel under Format-Serving/, as train and TFX's Trainer write it).
        examples: Split examples (Split-eval/ is evaluated), as ingest and TFX's ExampleGen write them.
        eval_config: A tfma.EvalConfig as JSON or text proto: model_specs (label_key, signature_name,
            prediction_key), slicing_specs, metrics_specs with value and change thresholds.
        beam_pipeline_args: Beam options for TFMA (empty: in process in the step's pod).
        evaluation: TFMA's output (tfma.load_eval_result reads it).
        blessing: TFX's ModelBlessing layout: a BLESSED or NOT_BLESSED file.
        metrics: The overall metrics, for the KFP UI.
        report: Every slice's metrics and each failed threshold.
        baseline_model: The model to compare with for change thresholds, e.g. latest_blessed's champion;
            none, or an empty model (latest_blessed's before the first push): value thresholds only.

    Returns:
        Whether the model is blessed.
    """
    from kubetfx.components.common.kfp_glue import log_metrics, record
    from kubetfx.components.evaluator import executor

    result = executor.run(model.path, examples.path, eval_config, evaluation.path, blessing.path, report.path,
                          baseline_model_uri=baseline_model.path if baseline_model else "",
                          beam_pipeline_args=beam_pipeline_args)
    log_metrics(metrics, result.pop("metrics"))
    record(blessing, result)
    record(report, result)
    # The single return value is the step's `Output` parameter: a push runs under dsl.If on it.
    return result["blessed"]


def build(image: str):
    return build_component(evaluator, image)
