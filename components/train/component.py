"""KFP interface of the train step; the work is in `executor.py`."""
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
    model: Output[Model],
    model_run: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[Markdown],
    model_contract: bool = True,
):
    """Calls the module file's run_fn(fn_args) with TFX's FnArgs and checks the exported model.

    Picks its tf.distribute strategy from where it runs (one device, all local GPUs, or a worker of
    the cluster TF_CONFIG or CLUSTER_SPEC describes); only the chief writes the outputs.

    Args:
        transformed_examples: Transformed splits from transform.
        transform_graph: The transform graph from transform.
        schema: The raw data schema from validate.
        module_file: A .py file (local or gs://) or an installed module defining run_fn.
        train_steps: Training steps (fn_args.train_steps).
        eval_steps: Evaluation steps per validation (fn_args.eval_steps).
        hyperparameters: Passed to run_fn as fn_args.hyperparameters.
        custom_config: Passed to run_fn as fn_args.custom_config.
        model: The serving SavedModel (raw features in, transform graph inside).
        model_run: TensorBoard logs of the run.
        metrics: Last-epoch training and validation metrics.
        report: Signatures, metrics and wall time.
        model_contract: Require the recommender's signatures (serving_default, score_catalogue,
            catalogue); off, any SavedModel in fn_args.serving_model_dir will do.
    """
    import os

    from kubetfx.components.common.kfp_glue import log_metrics, record
    from kubetfx.components.train import executor

    # The environment tells a worker of a Vertex AI custom job its place in the cluster.
    figures = executor.run(transformed_examples.path, transform_graph.path, schema.path, module_file,
                           model.path, model_run.path, report.path, train_steps, eval_steps,
                           hyperparameters, custom_config, environ=os.environ, model_contract=model_contract)
    log_metrics(metrics, figures.pop("metrics"))
    record(model, figures)
    record(report, figures)


def build(image: str):
    return build_component(train, image)
