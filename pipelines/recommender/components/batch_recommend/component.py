"""KFP interface of the batch recommendation step; the work is in `executor.py`."""
from kfp.dsl import Dataset, Input, Markdown, Model, Output

from kubetfx.components.common.kfp_glue import build_component


def batch_recommend(
    pushed_model: Input[Model],
    recommendations: Output[Dataset],
    report: Output[Markdown],
    users_uri: str = "",
    user_ids_uri: str = "",
    k: int = 10,
    batch_size: int = 1024,
):
    """Writes the top-k items of the pushed model for every user of a table, or for a list of users, to Parquet.

    Args:
        pushed_model: Push's output; its metadata names the version pushed (pushed_to, version),
            which is the model used even if LATEST has moved on since.
        users_uri: User table (CSV or Parquet, local or gs://) keyed by user_id with the model's
            features; without user_ids_uri, every user in it.
        user_ids_uri: The users to recommend for: a .txt file of ids (one per line) or a table
            with user_id; empty: every user of users_uri.
        k: Items per user.
        batch_size: Users per model call.
        recommendations: recommendations.parquet: user_id, items (best first), scores, model_version.
        report: Users, users per second, the model version.
    """
    import os

    from kubetfx.pipelines.recommender.components.batch_recommend import executor
    from kubetfx.components.common.errors import InputDataError
    from kubetfx.components.common.kfp_glue import record

    model_dir, version = pushed_model.metadata.get("pushed_to"), pushed_model.metadata.get("version")
    if not model_dir or not version:
        raise InputDataError("the pushed_model artifact has no 'pushed_to' and 'version' metadata: "
                             "connect this step to push's pushed_model output")
    os.makedirs(recommendations.path, exist_ok=True)
    figures = executor.run(model_dir, str(version), os.path.join(recommendations.path, executor.OUTPUT_FILE),
                           report.path, user_table_uri=users_uri, user_ids_uri=user_ids_uri,
                           config=executor.BatchRecommendConfig(k=k, batch_size=batch_size))
    record(recommendations, figures)
    record(report, figures)


def build(image: str):
    return build_component(batch_recommend, image)
