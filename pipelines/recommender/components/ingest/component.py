"""KFP interface of the ingest step; the work is in `executor.py`."""
from kfp.dsl import Dataset, Markdown, Output

from kubetfx.components.common.kfp_glue import build_component


def ingest(
    interactions_uri: str,
    users_uri: str,
    items_uri: str,
    split_method: str,
    eval_fraction: float,
    seed: int,
    examples: Output[Dataset],
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
        examples: Train and eval splits as TFRecords of tf.Example (TFX's Split- layout).
        report: Rows per split, users, items and unmatched ids.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.pipelines.recommender.components.ingest import executor

    figures = executor.run(interactions_uri, users_uri, items_uri, examples.path, report.path,
                           split_method=split_method, eval_fraction=eval_fraction, seed=seed)
    record(examples, figures)
    record(report, figures)


def build(image: str):
    return build_component(ingest, image)
