"""A pipeline a TFX user composes from kubetfx's generic components: their CSV, Parquet or TFRecord
files split by example_gen, checked by statistics_gen, schema_gen and example_validator, their module
file and their EvalConfig; a model is pushed only when TFX's Evaluator blesses it, compared with the
model being served (latest_blessed). README, "Compose your own pipeline", shows it line by line."""
from kfp import dsl

from kubetfx.components.evaluator import component as evaluator
from kubetfx.components.example_gen import component as example_gen
from kubetfx.components.example_validator import component as example_validator
from kubetfx.components.latest_blessed import component as latest_blessed
from kubetfx.components.push import component as push
from kubetfx.components.schema_gen import component as schema_gen
from kubetfx.components.statistics_gen import component as statistics_gen
from kubetfx.components.train import op as train
from kubetfx.components.transform import component as transform
from kubetfx.components.tuner import component as tuner
from kubetfx.config import Images, TrainingConfig

# Anomalies that stop the run before transform: data whose columns or types are not the schema's.
BLOCKING_ANOMALIES = ["SCHEMA_MISSING_COLUMN", "UNEXPECTED_DATA_TYPE", "FEATURE_TYPE_NOT_PRESENT"]


def create_pipeline(image: str, name: str = "tfx-classifier", training: TrainingConfig | None = None,
                    platform: str = train.KUBEFLOW, tune: bool = False):
    """Returns the pipeline function, every step on `image` (the kubetfx step image); `training` and
    `platform` place the train step (components/train/op.py; None: one pod as the cluster gives it).
    With `tune`, a tuner step (the module file's tuner_fn, each trial train_steps long) hands its best
    hyperparameters to train."""
    example_gen_op, statistics_gen_op = example_gen.build(image), statistics_gen.build(image)
    schema_gen_op, example_validator_op = schema_gen.build(image), example_validator.build(image)
    transform_op, tuner_op = transform.build(image), tuner.build(image)
    train_op = train.train_op(Images(repo="", every_step=image), training, platform)
    evaluator_op, push_op = evaluator.build(image), push.build(image)
    latest_blessed_op = latest_blessed.build(image)

    @dsl.pipeline(name=name)
    def tfx_classifier(data_uri: str, module_file: str, eval_config: str, serving_root: str,
                       train_steps: int = 300, eval_steps: int = 7, blocking_anomalies: list = BLOCKING_ANOMALIES):
        """Split, check, transform, train, evaluate with TFX's Evaluator against the serving model,
        and push when blessed.

        Args:
            data_uri: CSV, Parquet or TFRecord files: a folder or a file pattern (local or gs://),
                split train 2 : eval 1 by hash.
            module_file: The TFX module file: preprocessing_fn and run_fn(fn_args) (and tuner_fn when
                compiled with tune).
            eval_config: A tfma.EvalConfig (JSON or text proto) with the thresholds that bless; change
                thresholds compare with the model serving_root serves (none before the first push).
            serving_root: Where blessed models are pushed, one folder per version and LATEST.
            train_steps: Training steps for run_fn.
            eval_steps: Evaluation steps for run_fn.
            blocking_anomalies: TFDV anomaly types that stop the run before transform.
        """
        examples = example_gen_op(input_uri=data_uri).outputs["examples"]
        statistics = statistics_gen_op(examples=examples).outputs["statistics"]
        schema = schema_gen_op(statistics=statistics).outputs["schema"]
        validated = example_validator_op(statistics=statistics, schema=schema, blocking_anomalies=blocking_anomalies)
        transformed = transform_op(examples=examples, schema=schema, module_file=module_file,
                                   beam_pipeline_args=[]).after(validated)
        train_inputs = dict(transformed_examples=transformed.outputs["transformed_examples"],
                            transform_graph=transformed.outputs["transform_graph"], schema=schema,
                            module_file=module_file, train_steps=train_steps, eval_steps=eval_steps, custom_config={})
        tuned = {"best_hyperparameters": tuner_op(**train_inputs).outputs["best_hyperparameters"]} if tune else {}
        trained = train_op(**train_inputs, hyperparameters={}, **tuned)
        # The champion is read each run (uncached: push moves LATEST), an input with lineage.
        champion = latest_blessed_op(serving_root=serving_root).set_caching_options(False)
        evaluated = evaluator_op(model=trained.outputs["model"], examples=examples, eval_config=eval_config,
                                 beam_pipeline_args=[], baseline_model=champion.outputs["model"])
        with dsl.If(evaluated.outputs["Output"] == True):  # noqa: E712 (KFP's condition syntax)
            push_op(model=trained.outputs["model"], blessing=evaluated.outputs["blessing"],
                    serving_root=serving_root)

    return tfx_classifier
