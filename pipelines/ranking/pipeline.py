"""The second reference pipeline: ranking, the second stage of a product recommender. A propensity
classifier (pipelines/ranking/module.py) over user, item and context features, composed from the
generic components only: example_gen, statistics_gen, schema_gen, example_validator, transform,
train, the generic evaluator (TFX's Evaluator, TFMA) against the model being served, push when blessed.
"""
import json

from kfp import dsl

from kubetfx.components.evaluator import component as evaluator
from kubetfx.components.example_gen import component as example_gen
from kubetfx.components.example_validator import component as example_validator
from kubetfx.components.latest_blessed import component as latest_blessed
from kubetfx.components.push import component as push
from kubetfx.components.schema_gen import component as schema_gen
from kubetfx.components.statistics_gen import component as statistics_gen
from kubetfx.components.train import component as train
from kubetfx.components.transform import component as transform

PIPELINE_NAME = "kubetfx-ranking"
REFERENCE_MODULE = "kubetfx.pipelines.ranking.module"
LABEL_KEY = "label"
PREDICTION_KEY = "probabilities"
# Anomalies that stop the run before transform: a table whose columns or types are not the schema's.
BLOCKING_ANOMALIES = ["SCHEMA_MISSING_COLUMN", "UNEXPECTED_DATA_TYPE", "FEATURE_TYPE_NOT_PRESENT"]
# The evaluator's slices: overall, then by the user's gender and age group and by the item's genres
# (an item of several genres counts in each of them).
SLICES = ((), ("gender",), ("age_bucket",), ("genres",))
# Bars of the default EvalConfig. On MovieLens-100K's held-out ratings, scoring each by its item's
# share of likes among the training ratings gives AUC 0.71, adding the user's 0.76, the module's
# model 0.78: the bar asks for more than item popularity.
AUC_LOWER_BOUND = 0.75
MAX_AUC_DROP = 0.002  # below the served model's AUC by more than this: not pushed
CALIBRATION_BOUNDS = (0.9, 1.1)  # mean prediction / mean label
DECISION_THRESHOLDS = (0.5,)  # precision and recall at these scores


def default_eval_config(auc_lower_bound: float = AUC_LOWER_BOUND, max_auc_drop: float = MAX_AUC_DROP,
                calibration_bounds: tuple[float, float] = CALIBRATION_BOUNDS,
                decision_thresholds: tuple[float, ...] = DECISION_THRESHOLDS) -> str:
    """The default tfma.EvalConfig (JSON): AUC, calibration, example count, precision and recall at
    `decision_thresholds`, on every slice of SLICES. Blessed when, overall, AUC reaches
    `auc_lower_bound` and is at most `max_auc_drop` below the served model's (judged once a model is
    served), and calibration lies within `calibration_bounds`."""
    overall = [{}]
    auc = {"value_threshold": {"lower_bound": auc_lower_bound},
           "change_threshold": {"direction": "HIGHER_IS_BETTER", "absolute": -max_auc_drop}}
    calibration = {"value_threshold": {"lower_bound": calibration_bounds[0], "upper_bound": calibration_bounds[1]}}
    at_thresholds = json.dumps({"thresholds": list(decision_thresholds)})
    metrics = [
        {"class_name": "ExampleCount"},
        {"class_name": "AUC", "per_slice_thresholds": [{"slicing_specs": overall, "threshold": auc}]},
        {"class_name": "AUCPrecisionRecall"},
        {"class_name": "Calibration", "per_slice_thresholds": [{"slicing_specs": overall, "threshold": calibration}]},
        {"class_name": "MeanLabel"},
        {"class_name": "MeanPrediction"},
        {"class_name": "BinaryAccuracy"},
        {"class_name": "Precision", "config": at_thresholds},
        {"class_name": "Recall", "config": at_thresholds},
        {"class_name": "CalibrationPlot"},
    ]
    return json.dumps({
        "model_specs": [{"signature_name": "serving_default", "label_key": LABEL_KEY, "prediction_key": PREDICTION_KEY}],
        "slicing_specs": [{"feature_keys": list(keys)} if keys else {} for keys in SLICES],
        "metrics_specs": [{"metrics": metrics}],
        # TFMA would add the metrics the model was compiled with, computed on its probability output as
        # if it were the logit they were compiled for (a wrong `loss`, and a second `auc`).
        "options": {"include_default_metrics": False},
    }, sort_keys=True)


def create_pipeline(image: str, name: str = PIPELINE_NAME):
    """Returns the ranking pipeline function, every step on `image` (the kubetfx step image: the
    model is small and trains on CPU, so the same spec runs on Kubeflow and on Vertex AI)."""
    example_gen_op, statistics_gen_op = example_gen.build(image), statistics_gen.build(image)
    schema_gen_op, example_validator_op = schema_gen.build(image), example_validator.build(image)
    transform_op, train_op = transform.build(image), train.build(image)
    evaluator_op, push_op = evaluator.build(image), push.build(image)
    latest_blessed_op = latest_blessed.build(image)

    @dsl.pipeline(name=name)
    def ranking(data_uri: str, serving_root: str, module_file: str = REFERENCE_MODULE,
                eval_config: str = default_eval_config(), train_steps: int = 2000, eval_steps: int = 20,
                hyperparameters: dict = {}, beam_pipeline_args: list = [],
                blocking_anomalies: list = BLOCKING_ANOMALIES):
        """Trains a purchase or click propensity classifier (a recommender's ranking stage), evaluates
        it with TFX's Evaluator against the model being served, and pushes it when blessed.

        Args:
            data_uri: The ranking table: tf.Example TFRecord (as pipelines/ranking/data.py writes it) or
                CSV files (genres joined by '|'), a folder or a file pattern, local or gs://; one row
                per (user, item, moment) with the features the module reads and a 0/1 `label`; split
                train 2 : eval 1 by hash.
            serving_root: Where blessed models are pushed, one folder per version and LATEST.
            module_file: The TFX module file (preprocessing_fn, run_fn), a .py path or installed module.
            eval_config: A tfma.EvalConfig (JSON or text proto); by default AUC, calibration, example
                count, precision and recall per gender, age group and genre, blessing at AUC >= 0.75,
                no more than 0.002 below the served model's, and calibration within 0.9-1.1.
            train_steps: Training steps for run_fn.
            eval_steps: Validation steps for run_fn.
            hyperparameters: Passed to run_fn as fn_args.hyperparameters (the module's names).
            beam_pipeline_args: Beam options for transform and the evaluator (empty: in the step's pod).
            blocking_anomalies: TFDV anomaly types that stop the run before transform.
        """
        examples = example_gen_op(input_uri=data_uri).outputs["examples"]
        statistics = statistics_gen_op(examples=examples).outputs["statistics"]
        schema = schema_gen_op(statistics=statistics).outputs["schema"]
        validated = example_validator_op(statistics=statistics, schema=schema, blocking_anomalies=blocking_anomalies)
        transformed = transform_op(examples=examples, schema=schema, module_file=module_file,
                                   beam_pipeline_args=beam_pipeline_args).after(validated)
        trained = train_op(transformed_examples=transformed.outputs["transformed_examples"],
                           transform_graph=transformed.outputs["transform_graph"], schema=schema,
                           module_file=module_file, train_steps=train_steps, eval_steps=eval_steps,
                           hyperparameters=hyperparameters, custom_config={})
        # The champion is read each run (uncached: push moves LATEST), an input with lineage.
        champion = latest_blessed_op(serving_root=serving_root).set_caching_options(False)
        evaluated = evaluator_op(model=trained.outputs["model"], examples=examples, eval_config=eval_config,
                                 beam_pipeline_args=beam_pipeline_args, baseline_model=champion.outputs["model"])
        with dsl.If(evaluated.outputs["Output"] == True, name="blessed"):  # noqa: E712 (KFP's condition syntax)
            push_op(model=trained.outputs["model"], blessing=evaluated.outputs["blessing"],
                    serving_root=serving_root).set_caching_options(False)

    return ranking
