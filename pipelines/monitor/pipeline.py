"""The monitor pipeline: a batch compared with training and, on drift in new data, the training
pipeline again on that data. Meant to be scheduled (`kubetfx submit --schedule`), e.g. daily on
the day's request log or interactions."""
from kfp import dsl

from kubetfx.components.common import names
from kubetfx.pipelines.recommender.components.monitor import component as monitor_component
from kubetfx.config import Images, TrainingConfig
from kubetfx.pipelines.recommender import pipeline as recommender

PIPELINE_NAME = "kubetfx-monitor"
TASK_RETRAIN = "retrain"


def create_pipeline(images: Images, name: str = PIPELINE_NAME, training: TrainingConfig = TrainingConfig()):
    """Returns the monitor pipeline function, its steps running on `images`; retraining runs the
    recommender pipeline (nested, on self-hosted Kubeflow Pipelines) with `training`'s placement."""
    monitor_op = monitor_component.build(images.cpu)
    retrain_op = recommender.create_pipeline(images, training=training)

    @dsl.pipeline(name=name)
    def monitor(
        statistics_uri: str,
        examples_uri: str,
        serving_root: str,
        interactions_uri: str = "",
        users_uri: str = "",
        items_uri: str = "",
        request_log_uri: str = "",
        log_salt_uri: str = "",
        thresholds: dict = {},
        max_unknown_user_share: float = 0.2,
        max_unknown_item_share: float = 0.01,
        max_skew_share: float = 0.01,
        allow_retrain: bool = True,
        request_log_root: str = "",
        request_log_salt_uri: str = "",
    ):
        """Compares a batch with the data the served model was trained on; retrains on drift.

        Args:
            statistics_uri: The statistics artifact of the training run's validate step.
            examples_uri: The examples artifact of the training run's ingest step.
            serving_root: Where a retrained, blessed model is pushed.
            interactions_uri: New interaction data (CSV or Parquet); empty when a request log is given.
            users_uri: User features for the new interactions; empty for none.
            items_uri: Item features for the new interactions; empty for none.
            request_log_uri: A request log folder of `kubetfx serve`; empty when interactions are given.
            log_salt_uri: File with the request log's salt (to match logged users with training's); empty: skip.
            thresholds: Feature name to the largest distance that is not drift; only these features are
                judged (empty: the reference model's age 0.1, gender 0.15, occupation 0.15).
            max_unknown_user_share: Largest share of rows with a user training never saw.
            max_unknown_item_share: Largest share of rows with an item training never saw.
            max_skew_share: Largest share of known users' requests whose features differ from training's.
            allow_retrain: Whether drift in new interaction data starts the training pipeline on it.
            request_log_root: The retrained model's request log (gs://), in the manifests its push
                writes; empty: none.
            request_log_salt_uri: The salt of that request log (see the recommender pipeline).
        """
        statistics = dsl.importer(artifact_uri=statistics_uri, artifact_class=dsl.Artifact, reimport=False)
        examples = dsl.importer(artifact_uri=examples_uri, artifact_class=dsl.Artifact, reimport=False)
        check = monitor_op(statistics=statistics.output, examples=examples.output, interactions_uri=interactions_uri,
                           users_uri=users_uri, items_uri=items_uri, request_log_uri=request_log_uri,
                           log_salt_uri=log_salt_uri, thresholds=thresholds,
                           max_unknown_user_share=max_unknown_user_share, max_unknown_item_share=max_unknown_item_share,
                           max_skew_share=max_skew_share, allow_retrain=allow_retrain)
        # Each run judges a new batch against whatever is served now: never from cache.
        check.set_caching_options(False)
        check.set_display_name(names.TASK_MONITOR)
        with dsl.If(check.outputs["Output"] == True, name="drifted"):  # noqa: E712 (KFP condition)
            retrain = retrain_op(interactions_uri=interactions_uri, users_uri=users_uri, items_uri=items_uri,
                                 serving_root=serving_root, request_log_root=request_log_root,
                                 request_log_salt_uri=request_log_salt_uri)
            retrain.set_display_name(TASK_RETRAIN)

    return monitor
