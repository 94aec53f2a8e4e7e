"""KFP interface of the train step, the one for every placement; the work is in `executor.py`
(and, for a TFJob, `launcher.py`). `op.py` places it in a pipeline."""
from kfp.dsl import Input, Markdown, Metrics, Model, Output

from kubetfx.components.common.artifacts import Examples, HyperParameters, ModelRun, Schema, TransformGraph
from kubetfx.components.common.kfp_glue import build_component


def train(
    transformed_examples: Input[Examples],
    transform_graph: Input[TransformGraph],
    schema: Input[Schema],
    module_file: str,
    train_steps: int,
    eval_steps: int,
    hyperparameters: dict,
    custom_config: dict,
    model: Output[Model],
    model_run: Output[ModelRun],
    metrics: Output[Metrics],
    report: Output[Markdown],
    best_hyperparameters: Input[HyperParameters] = None,
    model_check: str = "",
    placement: str = "pod",
    trainer_image: str = "",
    training: dict = {},
):
    """Calls the module file's run_fn(fn_args) with TFX's FnArgs and checks the exported SavedModel.

    Picks its tf.distribute strategy from where it runs (one device, all local GPUs, or a worker of
    the cluster TF_CONFIG or CLUSTER_SPEC describes); only the chief writes the outputs.

    Args:
        transformed_examples: Transformed splits from transform.
        transform_graph: The transform graph from transform.
        schema: The raw data schema.
        module_file: A .py file (local or gs://) or an installed module defining run_fn.
        train_steps: Training steps (fn_args.train_steps).
        eval_steps: Evaluation steps per validation (fn_args.eval_steps).
        hyperparameters: Passed to run_fn as fn_args.hyperparameters (over the tuned values, if any).
        custom_config: Passed to run_fn as fn_args.custom_config.
        model: The serving SavedModel (raw features in, transform graph inside).
        model_run: TensorBoard logs and training backups.
        metrics: Last-epoch training and validation metrics.
        report: Signatures, metrics and wall time.
        best_hyperparameters: The tuner's output (optional): fn_args.hyperparameters is then its
            KerasTuner config, as TFX's Trainer passes it.
        model_check: module:function called with the loaded SavedModel and its folder after run_fn,
            raising if the pipeline's later steps cannot use it; empty: any SavedModel will do.
        placement: 'pod' (this step's pod; each worker of a Vertex AI custom job) or 'tfjob' (this step
            launches a Kubeflow TFJob and follows it); set at compile time.
        trainer_image: The image a TFJob's workers run (set at compile time).
        training: A TFJob's workers, resources, nodes and tolerations (TrainingConfig, set at compile time).
    """
    import os

    from kubetfx.components.common.kfp_glue import log_metrics, record
    from kubetfx.components.train import placement as placements
    from kubetfx.components.train.args import TrainArgs

    at = placements.locate(placement)
    args = TrainArgs(at(transformed_examples), at(transform_graph), at(schema), module_file, at(model),
                     at(model_run), at(report), train_steps, eval_steps, hyperparameters, custom_config,
                     at(best_hyperparameters) if best_hyperparameters else "", model_check)
    # The environment tells a worker of a Vertex AI custom job its place in the cluster.
    figures = placements.run(placement, args, os.environ, trainer_image, training)
    log_metrics(metrics, figures.pop("metrics"))
    record(model, figures)
    record(report, figures)


def build(image: str):
    return build_component(train, image)
