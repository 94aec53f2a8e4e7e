"""KFP interface of the ingest step; the work is in `executor.py`."""
from kfp.dsl import Markdown, Output

from kubetfx.components.common.artifacts import Examples
from kubetfx.components.common.kfp_glue import build_component


def ingest(
    interactions_uri: str,
    users_uri: str,
    items_uri: str,
    split_method: str,
    eval_fraction: float,
    seed: int,
    max_duplicate_share: float,
    max_unknown_user_share: float,
    max_unknown_item_share: float,
    max_non_finite_share: float,
    examples: Output[Examples],
    report: Output[Markdown],
):
    """Reads interactions and user and item tables, joins the features and splits per user.

    Args:
        interactions_uri: CSV or Parquet file (local or gs://) with user_id, item_id and optionally
            rating and timestamp.
        users_uri: CSV or Parquet file of user features keyed by user_id; empty for none.
        items_uri: CSV or Parquet file of item features keyed by item_id; empty for none.
        split_method: 'random' (seeded, per user) or 'time' (each user's latest interactions to eval).
        eval_fraction: Share of each user's interactions that goes to eval.
        seed: Seed of the random split.
        max_duplicate_share: Most interaction rows (share, 0 to 1) that may repeat an earlier row
            in every column; beyond it the run fails. Counted in the report either way, as are
            the three below.
        max_unknown_user_share: Most interactions (share, 0 to 1) whose user is not in users_uri.
        max_unknown_item_share: Most interactions (share, 0 to 1) whose item is not in items_uri.
        max_non_finite_share: Most interactions (share, 0 to 1) with an inf or -inf rating or timestamp.
        examples: Train and eval splits as TFRecords of tf.Example (TFX's Split- layout).
        report: Rows per split, users, items, unmatched ids and the data problems counted.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.pipelines.recommender.components.ingest import executor
    from kubetfx.pipelines.recommender.components.ingest.limits import QualityLimits

    limits = QualityLimits(max_duplicate_share=max_duplicate_share, max_unknown_user_share=max_unknown_user_share,
                           max_unknown_item_share=max_unknown_item_share, max_non_finite_share=max_non_finite_share)
    figures = executor.run(interactions_uri, users_uri, items_uri, examples.path, report.path,
                           split_method=split_method, eval_fraction=eval_fraction, seed=seed, limits=limits)
    record(examples, figures)
    record(report, figures)


def build(image: str):
    return build_component(ingest, image)
