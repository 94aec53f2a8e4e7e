"""KFP interface of the monitor step; the work is in `executor.py`."""
from kfp.dsl import HTML, Artifact, Input, Metrics, Output

from kubetfx.components.common.artifacts import ExampleStatistics, Examples
from kubetfx.components.common.kfp_glue import build_component


def monitor(
    statistics: Input[ExampleStatistics],
    examples: Input[Examples],
    interactions_uri: str,
    users_uri: str,
    items_uri: str,
    request_log_uri: str,
    log_salt_uri: str,
    thresholds: dict,
    max_unknown_user_share: float,
    max_unknown_item_share: float,
    max_skew_share: float,
    allow_retrain: bool,
    result: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
) -> bool:
    """Compares a batch (new interaction data or serving's request log) with training: drift per
    feature, training-serving skew, unknown users and items; a verdict, and whether to retrain.

    Args:
        statistics: Training's statistics from validate (the reference distributions).
        examples: Training's examples from ingest (its users, items and user features).
        interactions_uri: New interaction data (CSV or Parquet); empty when a request log is given.
        users_uri: User features for the new interactions; empty for none.
        items_uri: Item features for the new interactions; empty for none.
        request_log_uri: A request log folder written by `kubetfx serve`; empty when interactions are given.
        log_salt_uri: File holding the request log's salt, to match logged users with training's; empty: skip.
        thresholds: Feature name to the largest distance that is not drift (JS divergence or
            L-infinity); empty: the reference model's user features.
        max_unknown_user_share: Largest share of rows with a user training never saw.
        max_unknown_item_share: Largest share of rows with an item training never saw.
        max_skew_share: Largest share of known users' requests whose features differ from training's.
        allow_retrain: Whether drift in new interaction data asks for the training pipeline.
        result: The batch's statistics (Split-batch/, TFDV's format) and monitor.json.
        metrics: Every distance and share, for the KFP UI.
        report: The verdict, distances and shares as a page.

    Returns:
        Whether to retrain: drift in new interaction data, and retraining allowed.
    """
    from kubetfx.components.common.kfp_glue import log_metrics, record
    from kubetfx.pipelines.recommender.components.monitor import executor, sources
    from kubetfx.pipelines.recommender.components.monitor.config import DEFAULT_THRESHOLDS, MonitorConfig
    from kubetfx.pipelines.recommender.serving.request_log import read_salt

    config = MonitorConfig(
        thresholds=thresholds or DEFAULT_THRESHOLDS, max_unknown_user_share=max_unknown_user_share,
        max_unknown_item_share=max_unknown_item_share, max_skew_share=max_skew_share,
        salt=read_salt(log_salt_uri) if log_salt_uri else b"", allow_retrain=allow_retrain,
    )
    source = sources.BatchSource(interactions_uri=interactions_uri, users_uri=users_uri, items_uri=items_uri,
                                 request_log_uri=request_log_uri)
    outcome = executor.run(statistics.path, examples.path, source, result.path, report.path, config)
    log_metrics(metrics, executor.metrics(outcome))
    summary = {key: outcome[key] for key in ("verdict", "reasons", "rows", "source", "retrain")}
    record(result, summary)
    record(report, summary)
    # The single return value is the step's `Output` parameter: kfp.local resolves a condition on
    # it, not on a named output.
    return outcome["retrain"]


def build(image: str):
    return build_component(monitor, image)
