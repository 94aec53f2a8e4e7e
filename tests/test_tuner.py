"""The tuner: TFX's Tuner executor runs a module file's tuner_fn (KerasTuner; two trials of a few steps
on the churn data, transformed here) and leaves TFX's best_hyperparameters.txt, which the trainer hands
to run_fn as TFX's Trainer does; the component runs under kfp.local and its output feeds train's."""
import json
import pathlib
import warnings

import pytest

from kubetfx.components.common import names
from kubetfx.components.common.errors import ModuleFileError
from kubetfx.components.train import executor as train
from kubetfx.components.train.args import TrainArgs
from kubetfx.components.tuner import executor as tuner
from tfx_style_data import MODULE_FILE as TRANSFORM_MODULE

TRIAL_STEPS, EVAL_STEPS = 20, 2
UNITS = [1, 16]
# KerasTuner builds Keras 3 models (the `keras` package), whatever tf.keras is; run_fn here records
# fn_args.hyperparameters and exports a trivial SavedModel.
MODULE = f'''
import json
import os

import keras
import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

FEATURES = ["age", "monthly_spend", "support_calls"]


def _dataset(fn_args, files):
    schema = tft.TFTransformOutput(fn_args.transform_graph_path).transformed_metadata.schema
    options = tfxio.TensorFlowDatasetOptions(batch_size=32, label_key="churned")
    dataset = fn_args.data_accessor.tf_dataset_factory(files, options, schema)
    return dataset.map(lambda features, label: ({{k: features[k] for k in FEATURES}}, label)).repeat()


def _model(hp):
    inputs = {{k: keras.Input(shape=(1,), name=k) for k in FEATURES}}
    hidden = keras.layers.Dense(hp.Choice("units", {UNITS}), activation="relu")(keras.layers.Concatenate()(list(inputs.values())))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(keras.optimizers.Adam(0.05), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def tuner_fn(fn_args):
    search = keras_tuner.GridSearch(_model, objective="val_loss", max_trials=2, directory=fn_args.working_dir,
                                    project_name="churn")
    return tfx.components.TunerFnResult(tuner=search, fit_kwargs=dict(
        x=_dataset(fn_args, fn_args.train_files), validation_data=_dataset(fn_args, fn_args.eval_files),
        steps_per_epoch=fn_args.train_steps, validation_steps=fn_args.eval_steps, epochs=1, verbose=0))


def run_fn(fn_args):
    os.makedirs(fn_args.model_run_dir, exist_ok=True)
    with open(os.path.join(fn_args.model_run_dir, "hyperparameters.json"), "w") as f:
        json.dump(fn_args.hyperparameters, f)
    module = tf.Module()
    module.f = tf.function(lambda x: {{"y": x}}, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, fn_args.serving_model_dir, signatures={{"serving_default": module.f}})
'''


@pytest.fixture(scope="module")
def transformed(churn, tmp_path_factory):
    """The churn examples through transform with the TFX-style module: (graph, transformed examples)."""
    from kubetfx.components.transform import executor as transform

    out = tmp_path_factory.mktemp("tuner-transform")
    transform.run(str(churn / "examples"), str(churn / "schema"), TRANSFORM_MODULE, str(out / "graph"),
                  str(out / "transformed"), str(out / "transform.md"))
    return out / "graph", out / "transformed"


@pytest.fixture(scope="module")
def module_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("tuner-module") / "tuning_module.py"
    path.write_text(MODULE)
    return str(path)


@pytest.fixture(scope="module")
def tuned(churn, transformed, module_file, tmp_path_factory):
    graph, examples = transformed
    out = tmp_path_factory.mktemp("tuned")
    figures = tuner.run(str(examples), str(graph), str(churn / "schema"), module_file, str(out / "best"),
                        str(out / "tuner.md"), TRIAL_STEPS, EVAL_STEPS)
    return out, figures


def test_the_search_leaves_tfx_best_hyperparameters_file_with_a_keras_tuner_config(tuned):
    import keras_tuner

    out, figures = tuned
    assert [path.name for path in (out / "best").iterdir()] == ["best_hyperparameters.txt"], "TFX's layout"
    best = keras_tuner.HyperParameters.from_config(json.loads((out / "best" / "best_hyperparameters.txt").read_text()))
    assert best.values == figures["best_values"] and best.values["units"] in UNITS
    assert figures["trials"] == 2, "each grid point is one trial"
    report = (out / "tuner.md").read_text()
    assert "2 completed trials" in report and f"`units` = {best.values['units']}" in report


def test_the_trainer_hands_the_tuned_hyperparameters_to_run_fn(churn, transformed, module_file, tuned, tmp_path):
    import keras_tuner

    graph, examples = transformed
    best, figures = tuned[0] / "best", tuned[1]
    train.run(TrainArgs(str(examples), str(graph), str(churn / "schema"), module_file, str(tmp_path / "model"),
                        str(tmp_path / "run"), str(tmp_path / "train.md"), 1, 1, best_hyperparameters=str(best)))
    given = json.loads((tmp_path / "run" / "hyperparameters.json").read_text())
    assert keras_tuner.HyperParameters.from_config(given).values == figures["best_values"]


def test_a_module_without_tuner_fn_is_named(churn, transformed, tmp_path):
    graph, examples = transformed
    with pytest.raises(ModuleFileError, match=r"defines no function tuner_fn\(\)"):
        tuner.run(str(examples), str(graph), str(churn / "schema"), TRANSFORM_MODULE, str(tmp_path / "best"),
                  str(tmp_path / "tuner.md"), 1, 1)


def test_the_tuner_component_under_kfp_local_feeds_the_trainer(churn, transformed, module_file, tmp_path):
    from kfp import dsl, local

    from kubetfx.components.train import component as train_component
    from kubetfx.components.tuner import component as tuner_component

    tuner_op, train_op = tuner_component.build("kubetfx-test"), train_component.build("kubetfx-test")

    @dsl.pipeline(name="tuner-then-train")
    def tune_then_train(examples_uri: str, graph_uri: str, schema_uri: str, module_file: str):
        examples = dsl.importer(artifact_uri=examples_uri, artifact_class=dsl.Artifact, reimport=False)
        graph = dsl.importer(artifact_uri=graph_uri, artifact_class=dsl.Artifact, reimport=False)
        schema = dsl.importer(artifact_uri=schema_uri, artifact_class=dsl.Artifact, reimport=False)
        inputs = dict(transformed_examples=examples.output, transform_graph=graph.output, schema=schema.output,
                      module_file=module_file, eval_steps=EVAL_STEPS, custom_config={})
        tuned = tuner_op(train_steps=TRIAL_STEPS, **inputs)
        train_op(train_steps=1, hyperparameters={}, best_hyperparameters=tuned.outputs["best_hyperparameters"], **inputs)

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    graph, examples = transformed
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")  # the steps run in this environment
        tune_then_train(examples_uri=str(examples), graph_uri=str(graph), schema_uri=str(churn / "schema"),
                        module_file=module_file)
    (run,) = (tmp_path / "root").iterdir()
    best_file = next((run / "tuner").rglob("best_hyperparameters.txt"))
    tuned = json.loads(best_file.read_text())
    given = json.loads(next((run / "train").rglob("hyperparameters.json")).read_text())
    assert given == tuned and given["values"]["units"] in UNITS
    output = json.loads((run / "tuner" / "executor_output.json").read_text())
    metadata = output["artifacts"]["best_hyperparameters"]["artifacts"][0]["metadata"]
    assert metadata["best_values"] == tuned["values"] and metadata[names.META_WALL_SECONDS] > 0
    assert pathlib.Path(best_file).parent.name == "best_hyperparameters"


def test_the_classifier_pipeline_tunes_only_when_compiled_to(tmp_path):
    import yaml
    from kfp import compiler

    from kubetfx.pipelines.tfx_classifier import pipeline

    for tune in (False, True):
        target = tmp_path / f"tune-{tune}.yaml"
        compiler.Compiler().compile(pipeline.create_pipeline("kubetfx-test", tune=tune), str(target))
        tasks = yaml.safe_load(target.read_text())["root"]["dag"]["tasks"]
        source = tasks["train"]["inputs"]["artifacts"].get("best_hyperparameters")
        assert ("tuner" in tasks) is tune and (source is not None) is tune
    assert source["taskOutputArtifact"] == {"producerTask": "tuner", "outputArtifactKey": "best_hyperparameters"}
    assert tasks["tuner"]["inputs"]["artifacts"]["transform_graph"]["taskOutputArtifact"]["producerTask"] == "transform"
