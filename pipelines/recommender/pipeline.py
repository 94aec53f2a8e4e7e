"""The reference pipeline: product recommendations from ingest to push."""
from kfp import dsl

from kubetfx.pipelines.recommender.components.batch_recommend import component as batch_recommend_component
from kubetfx.components.common import names
from kubetfx.pipelines.recommender.components.evaluate import component as evaluate_component
from kubetfx.pipelines.recommender.components.ingest import component as ingest_component
from kubetfx.pipelines.recommender.components.ingest.limits import DEFAULTS as QUALITY_LIMITS
from kubetfx.components.push import component as push_component
# VERTEX too: kubetfx compile reads both platforms here.
from kubetfx.components.train.op import KUBEFLOW, VERTEX, train_op as placed_train_op  # noqa: F401
from kubetfx.components.transform import component as transform_component
from kubetfx.components.validate import component as validate_component
from kubetfx.config import Images, TrainingConfig
from kubetfx.pipelines.recommender import contract

PIPELINE_NAME = "kubetfx-recommender"
REFERENCE_MODULE = "kubetfx.pipelines.recommender.module"
TASK_BATCH_RECOMMEND = "batch-recommend"


def create_pipeline(images: Images, name: str = PIPELINE_NAME, training: TrainingConfig = TrainingConfig(),
                    platform: str = KUBEFLOW, batch_recommend: bool = False):
    """Returns the recommender pipeline function, its steps running on `images`.

    `training` places the train step (workers, GPUs, resources, nodes); `platform` is `kubeflow`
    (self-hosted Kubeflow Pipelines: one trainer pod, or a TFJob launcher for several workers) or
    `vertex` (Vertex AI Pipelines: the trainer as a custom job with worker pools). With
    `batch_recommend`, a step after push writes the pushed model's top-10 for every user of
    `users_uri` to Parquet (`kubetfx compile --batch-recommend`); off, the spec is as it was without it.
    """
    ingest_op = ingest_component.build(images.cpu)
    validate_op = validate_component.build(images.cpu)
    transform_op = transform_component.build(images.cpu)
    train_op = placed_train_op(images, training, platform)
    evaluate_op = evaluate_component.build(images.cpu)
    push_op = push_component.build(images.cpu)

    @dsl.pipeline(name=name)
    def recommender(
        interactions_uri: str,
        serving_root: str,
        users_uri: str = "",
        items_uri: str = "",
        module_file: str = REFERENCE_MODULE,
        split_method: str = "random",
        eval_fraction: float = 0.25,
        seed: int = 42,
        max_duplicate_share: float = QUALITY_LIMITS.max_duplicate_share,
        max_unknown_user_share: float = QUALITY_LIMITS.max_unknown_user_share,
        max_unknown_item_share: float = QUALITY_LIMITS.max_unknown_item_share,
        max_non_finite_share: float = QUALITY_LIMITS.max_non_finite_share,
        beam_pipeline_args: list = [],
        train_steps: int = 2400,
        eval_steps: int = 20,
        hyperparameters: dict = {},
        custom_config: dict = {},
        top_k: list = [10],
        main_metric: str = "ndcg@10",
        baseline_margin: float = 0.0,
        max_regression: float = 0.0,
        min_fairness_ratio: float = 0.0,
        min_group_size: int = 20,
        thresholds: dict = {},
        request_log_root: str = "",
        request_log_salt_uri: str = "",
        require_token: bool = False,
        canary_traffic_percent: int = 0,
    ):
        """Trains, evaluates and pushes a product recommendation model (TFX steps on KFP).

        Args:
            interactions_uri: Interaction log (CSV or Parquet, local or gs://): user_id, item_id[, rating, timestamp].
            serving_root: Where blessed models go, one folder per version, with a LATEST pointer.
            users_uri: User features keyed by user_id; empty for none.
            items_uri: Item features keyed by item_id; empty for none.
            module_file: The module file (.py path or installed module) with preprocessing_fn and run_fn.
            split_method: 'random' (seeded, per user) or 'time' (latest interactions to eval).
            eval_fraction: Share of each user's interactions held out for evaluation.
            seed: Seed of the split.
            max_duplicate_share: Most interaction rows (share, 0 to 1) that may repeat an earlier row
                in every column before ingest fails the run; each data problem is counted in the
                ingest report and the run summary either way.
            max_unknown_user_share: Most interactions (share, 0 to 1) whose user is missing from users_uri.
            max_unknown_item_share: Most interactions (share, 0 to 1) whose item is missing from items_uri.
            max_non_finite_share: Most interactions (share, 0 to 1) with an inf or -inf rating or timestamp.
            beam_pipeline_args: Beam options for Transform (empty: DirectRunner in the step's pod).
            train_steps: Training steps passed to run_fn.
            eval_steps: Validation steps passed to run_fn.
            hyperparameters: Passed to run_fn as fn_args.hyperparameters.
            custom_config: Passed to run_fn as fn_args.custom_config.
            top_k: K values of the top-K metrics.
            main_metric: The metric the evaluation gates compare.
            baseline_margin: Relative margin by which the model must beat most-popular.
            max_regression: Relative drop from the last blessed model that is still blessed.
            min_fairness_ratio: Least worst/best group ratio of the main metric; 0 disables the gate.
            min_group_size: Smaller groups are reported but not judged by the fairness gate.
            thresholds: Metric name to minimum value, each required for blessing.
            request_log_root: Where the served model logs requests (gs://), written into the serving
                manifests push leaves; empty: no request log.
            request_log_salt_uri: The salt user ids are hashed with in that log: a gs:// object, or
                /etc/kubetfx/request-log-salt/salt on KServe with the Secret kubetfx-request-log-salt.
            require_token: The KServe manifest push writes makes the server require a bearer token from
                the Secret kubetfx-serving-token; false: no token (the cluster's own auth only).
            canary_traffic_percent: The share of traffic (0 to 100) KServe gives the new version while the
                previous one keeps the rest; 0 or 100: all of it once ready.
        """
        ingest = ingest_op(interactions_uri=interactions_uri, users_uri=users_uri, items_uri=items_uri,
                           split_method=split_method, eval_fraction=eval_fraction, seed=seed,
                           max_duplicate_share=max_duplicate_share, max_unknown_user_share=max_unknown_user_share,
                           max_unknown_item_share=max_unknown_item_share, max_non_finite_share=max_non_finite_share)
        validate = validate_op(examples=ingest.outputs["examples"])
        transform = transform_op(examples=ingest.outputs["examples"], schema=validate.outputs["schema"],
                                 module_file=module_file, beam_pipeline_args=beam_pipeline_args)
        train = train_op(transformed_examples=transform.outputs["transformed_examples"],
                         transform_graph=transform.outputs["transform_graph"], schema=validate.outputs["schema"],
                         module_file=module_file, train_steps=train_steps, eval_steps=eval_steps,
                         hyperparameters=hyperparameters, custom_config=custom_config, model_check=contract.MODEL_CHECK)
        evaluate = evaluate_op(model=train.outputs["model"], examples=ingest.outputs["examples"],
                               serving_root=serving_root, top_k=top_k, main_metric=main_metric,
                               baseline_margin=baseline_margin, max_regression=max_regression,
                               min_fairness_ratio=min_fairness_ratio, min_group_size=min_group_size,
                               thresholds=thresholds)
        # The champion is read through serving_root at run time, so the evaluation must not be
        # served from cache once a new model has been pushed.
        evaluate.set_caching_options(False)
        with dsl.If(evaluate.outputs["Output"] == True, name="blessed"):  # noqa: E712 (KFP condition)
            push = push_op(model=train.outputs["model"], blessing=evaluate.outputs["blessing"],
                           serving_root=serving_root, request_log_root=request_log_root,
                           request_log_salt_uri=request_log_salt_uri, require_token=require_token,
                           canary_traffic_percent=canary_traffic_percent,
                           # The lineage in the version's MANIFEST.json: this run and its data.
                           run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                           interactions_uri=interactions_uri, users_uri=users_uri, items_uri=items_uri)
            push.set_caching_options(False)
            if batch_recommend:
                with dsl.If(users_uri != "", name="users-table-given"):
                    batch = batch_recommend_component.build(images.cpu)(
                        pushed_model=push.outputs["pushed_model"], users_uri=users_uri)
                    batch.set_display_name(TASK_BATCH_RECOMMEND)
        for task, task_name in ((ingest, names.TASK_INGEST), (validate, names.TASK_VALIDATE),
                                (transform, names.TASK_TRANSFORM), (train, names.TASK_TRAIN),
                                (evaluate, names.TASK_EVALUATE), (push, names.TASK_PUSH)):
            task.set_display_name(task_name)

    return recommender

