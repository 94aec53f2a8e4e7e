"""KFP interface of the evaluate step; the work is in `executor.py`."""
from kfp.dsl import HTML, Input, Metrics, Model, Output

from kubetfx.components.common.artifacts import Examples, ModelBlessing, ModelEvaluation
from kubetfx.components.common.kfp_glue import build_component


def evaluate(
    model: Input[Model],
    examples: Input[Examples],
    serving_root: str,
    top_k: list,
    main_metric: str,
    baseline_margin: float,
    max_regression: float,
    min_fairness_ratio: float,
    min_group_size: int,
    thresholds: dict,
    evaluation: Output[ModelEvaluation],
    blessing: Output[ModelBlessing],
    metrics: Output[Metrics],
    report: Output[HTML],
) -> bool:
    """Evaluates the model against a most-popular baseline and the last blessed model, per slice.

    Top-K metrics over the whole catalogue (items seen in train removed), tensorflow-model-analysis
    metrics per slice, and gates (baseline, champion, fairness, thresholds) that decide the blessing.

    Args:
        model: The trained model from train.
        examples: Split examples from ingest (train items are masked, eval items are relevant).
        serving_root: Where push keeps blessed models; its LATEST model is the champion.
        top_k: The K values of the top-K metrics, e.g. [10].
        main_metric: The metric the gates compare, e.g. "ndcg@10".
        baseline_margin: Relative margin by which the model must beat most-popular.
        max_regression: Relative drop from the champion's main metric that is still blessed.
        min_fairness_ratio: Worst/best group ratio of the main metric per slice family; 0 disables.
        min_group_size: Groups with fewer users are reported but not judged.
        thresholds: Metric name to minimum value; each must hold.
        evaluation: All metrics, slices and the TFMA output.
        blessing: blessing.json with the verdict and each gate's reason.
        metrics: Headline metrics for the KFP UI.
        report: Gates, comparisons, slices and error analysis as a page.

    Returns:
        Whether the model is blessed.
    """
    from kubetfx.components.common.kfp_glue import log_metrics, record
    from kubetfx.pipelines.recommender.components.evaluate import executor
    from kubetfx.components.train.executor import serving_model_dir

    config = executor.EvaluateConfig(
        top_k=tuple(top_k), main_metric=main_metric, baseline_margin=baseline_margin,
        max_regression=max_regression, min_fairness_ratio=min_fairness_ratio,
        min_group_size=min_group_size, thresholds=thresholds,
    )
    result = executor.run(serving_model_dir(model.path), examples.path, evaluation.path, blessing.path,
                          report.path, serving_root=serving_root, config=config)
    log_metrics(metrics, result.pop("metrics"))
    record(blessing, result)
    record(report, result)
    # The single return value is the step's `Output` parameter: push runs under dsl.If on it.
    return result["blessed"]


def build(image: str):
    return build_component(evaluate, image)
