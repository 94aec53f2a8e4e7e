"""KFP interface of the tuner (TFX's Tuner); the work is in `executor.py`."""
from kfp.dsl import Input, Markdown, Output

from kubetfx.components.common.artifacts import Examples, HyperParameters, Schema, TransformGraph
from kubetfx.components.common.kfp_glue import build_component


def tuner(
    transformed_examples: Input[Examples],
    transform_graph: Input[TransformGraph],
    schema: Input[Schema],
    module_file: str,
    train_steps: int,
    eval_steps: int,
    custom_config: dict,
    best_hyperparameters: Output[HyperParameters],
    report: Output[Markdown],
):
    """Searches hyperparameters with the module file's tuner_fn(fn_args) (TFX's contract: it returns
    a TunerFnResult, a KerasTuner tuner and its search's arguments), run by TFX's Tuner executor.

    Args:
        transformed_examples: Transformed splits from transform (train to fit, eval to score).
        transform_graph: The transform graph from transform.
        schema: The raw data schema.
        module_file: A .py file (local or gs://) or an installed module defining tuner_fn.
        train_steps: Training steps of each trial (fn_args.train_steps).
        eval_steps: Evaluation steps of each trial (fn_args.eval_steps).
        custom_config: Passed to tuner_fn as fn_args.custom_config.
        best_hyperparameters: best_hyperparameters.txt (TFX's layout: a KerasTuner HyperParameters
            config), for the train step's best_hyperparameters input; metadata: the best values.
        report: The best values and every completed trial's score.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.tuner import executor

    figures = executor.run(transformed_examples.path, transform_graph.path, schema.path, module_file,
                           best_hyperparameters.path, report.path, train_steps, eval_steps, custom_config)
    record(best_hyperparameters, figures)
    record(report, figures)


def build(image: str):
    return build_component(tuner, image)
