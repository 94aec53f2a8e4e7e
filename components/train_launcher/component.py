"""KFP interface of the train step when it trains with several workers on self-hosted Kubeflow:
a launcher of a TFJob; the work is in `executor.py` and, on the workers, in `components/train/`."""
from kfp.dsl import Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from kubetfx.components.common.kfp_glue import build_component


def train(
    transformed_examples: Input[Dataset],
    transform_graph: Input[Artifact],
    schema: Input[Artifact],
    module_file: str,
    train_steps: int,
    eval_steps: int,
    hyperparameters: dict,
    custom_config: dict,
    trainer_image: str,
    training: dict,
    model: Output[Model],
    model_run: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[Markdown],
):
    """Trains with several workers as a Kubeflow Training Operator TFJob, followed to its end.

    The workers read the inputs and write the outputs by URI: the pipeline root must be a gs://
    bucket the workers' pods can reach.

    Args:
        transformed_examples: Transformed splits from transform.
        transform_graph: The transform graph from transform.
        schema: The raw data schema from validate.
        module_file: An installed module or a gs:// .py file defining run_fn.
        train_steps: Training steps (fn_args.train_steps).
        eval_steps: Evaluation steps per validation (fn_args.eval_steps).
        hyperparameters: Passed to run_fn as fn_args.hyperparameters.
        custom_config: Passed to run_fn as fn_args.custom_config.
        trainer_image: The image every worker runs (set at compile time).
        training: Workers, resources, node selectors and tolerations (kubetfx's TrainingConfig, set at compile time).
        model: The serving SavedModel, written by the chief.
        model_run: TensorBoard logs and training backups, written by the chief.
        metrics: Last-epoch training and validation metrics.
        report: Signatures, metrics and wall time, written by the chief.
    """
    from kubetfx.components.common.kfp_glue import log_metrics, record
    from kubetfx.components.train.worker import WorkerArgs
    from kubetfx.components.train_launcher import executor
    from kubetfx.config import TrainingConfig

    config = TrainingConfig.from_dict(training)
    # Only URIs reach the workers; nothing is written to the local copies KFP would upload.
    args = WorkerArgs(transformed_examples.uri, transform_graph.uri, schema.uri, module_file, model.uri,
                      model_run.uri, report.uri, train_steps, eval_steps, hyperparameters, custom_config)
    figures = executor.launch(args, trainer_image, config, config.namespace or executor.own_namespace(),
                              executor.KubernetesApis.connect())
    log_metrics(metrics, figures.pop("metrics"))
    record(model, figures)
    record(report, figures)


def build(image: str):
    return build_component(train, image)
