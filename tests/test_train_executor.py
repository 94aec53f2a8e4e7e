"""The train executor: TFX's FnArgs for run_fn, the tuner's hyperparameters, and the check of the
exported model (any SavedModel, or the pipeline's own check such as the recommender's contract)."""
import json

import pytest

from kubetfx.components.common import names
from kubetfx.components.common.errors import InputDataError, ModelContractError, ModuleFileError
from kubetfx.components.train import executor
from kubetfx.components.train.args import TrainArgs
from kubetfx.pipelines.recommender import contract


def test_run_fn_gets_tfx_own_fn_args_with_kubetfx_extras(transformed):
    from tfx import v1 as tfx

    graph, transformed_examples, _ = transformed
    args = executor.build_fn_args(TrainArgs(str(transformed_examples), str(graph), "schema", "module", "m", "r",
                                            "report", 5, 2, {"a": 1}, {"b": 2}), strategy="s")
    assert isinstance(args, tfx.components.FnArgs) and isinstance(args.data_accessor, tfx.components.DataAccessor)
    assert (args.train_steps, args.eval_steps, args.hyperparameters, args.custom_config) == (5, 2, {"a": 1}, {"b": 2})
    assert args.transform_output == args.transform_graph_path == str(graph)
    assert args.schema_path == args.schema_file == "schema/" + names.SCHEMA_FILE
    assert args.serving_model_dir == "m/" + names.SERVING_MODEL_SUBDIR and args.model_run_dir == "r"
    assert (args.strategy, args.backup_dir, len(args.callbacks)) == ("s", "r/" + names.BACKUP_SUBDIR, 1)


def test_data_accessor_reads_transformed_examples_through_tfxio(transformed):
    import tensorflow_transform as tft
    from tfx_bsl.public import tfxio

    graph, transformed_examples, _ = transformed
    args = executor.build_fn_args(TrainArgs(str(transformed_examples), str(graph), "", "module", "m", "r", "report", 1, 1))
    schema = tft.TFTransformOutput(str(graph)).transformed_metadata.schema
    dataset = args.data_accessor.tf_dataset_factory(args.train_files, tfxio.TensorFlowDatasetOptions(batch_size=8, label_key="item_id"), schema)
    features, labels = next(iter(dataset))
    assert labels.shape == (8,) and features["user_id"].shape == (8,)


def test_trained_model_recommends_catalogue_items_for_raw_features(trained):
    import tensorflow as tf

    model_dir, figures = trained
    assert set(contract.REQUIRED_SIGNATURES) <= set(figures["signatures"])
    assert {"train_loss", "validation_loss"} <= set(figures["metrics"])
    # at most train_steps: an epoch is one pass over the tiny train split
    assert 0 < figures["trained_steps"] <= 60 and 0 < figures["training_loop_seconds"] < figures["run_fn_seconds"]
    loaded = tf.saved_model.load(figures["serving_model_dir"])
    catalogue = set(loaded.signatures["catalogue"]()["item_ids"].numpy())
    features = dict(user_id=tf.constant(["1", "never-seen-user"]), age=tf.constant([30, 40], tf.int64),
                    gender=tf.constant(["F", "M"]), occupation=tf.constant(["student", "unknown-job"]))
    # No recent items (an empty [batch, 0] list): the user's training history is used.
    answer = loaded.signatures["serving_default"](**features, recent_items=tf.zeros([2, 0], tf.string))
    assert answer["item_ids"].shape[0] == 2 and set(answer["item_ids"].numpy().ravel()) <= catalogue
    scores = answer["scores"].numpy()
    assert (scores[:, :-1] >= scores[:, 1:]).all(), "recommendations come best first"
    padded = loaded.signatures["serving_default"](**features, recent_items=tf.constant([["", "not-an-item"]] * 2))
    assert (padded["item_ids"].numpy() == answer["item_ids"].numpy()).all(), "no known recent item: the same answer"
    session = sorted(catalogue)[:3]
    recent = loaded.signatures["serving_default"](**features, recent_items=tf.constant([session] * 2))
    assert (recent["item_ids"].numpy() != answer["item_ids"].numpy()).any(), "recent items change the answer"


def _module(tmp_path, body: str):
    path = tmp_path / "user_module.py"
    path.write_text("import tensorflow as tf\n" + body)
    return str(path)


def _train(tmp_path, transformed, validated, module_file, model_check=""):
    graph, transformed_examples, _ = transformed
    return executor.run(TrainArgs(str(transformed_examples), str(graph), str(validated), module_file,
                                  str(tmp_path / "model"), str(tmp_path / "run"), str(tmp_path / "r.md"), train_steps=1,
                                  eval_steps=1, model_check=model_check))


def test_a_module_without_run_fn_is_named(tmp_path, transformed, validated):
    with pytest.raises(ModuleFileError, match=r"defines no function run_fn\(\)"):
        _train(tmp_path, transformed, validated, _module(tmp_path, "def preprocessing_fn(inputs):\n    return inputs\n"))


def test_run_fn_that_exports_nothing_is_caught(tmp_path, transformed, validated):
    with pytest.raises(ModelContractError, match="exported no SavedModel at fn_args.serving_model_dir"):
        _train(tmp_path, transformed, validated, _module(tmp_path, "def run_fn(fn_args):\n    pass\n"),
               model_check=contract.MODEL_CHECK)


NOT_A_RECOMMENDER = (
    "def run_fn(fn_args):\n"
    "    module = tf.Module()\n"
    "    module.f = tf.function(lambda x: {'y': x}, input_signature=[tf.TensorSpec([None], tf.float32)])\n"
    "    tf.saved_model.save(module, fn_args.serving_model_dir, signatures={'serving_default': module.f})\n"
)


def test_the_recommenders_contract_as_model_check_catches_a_model_without_its_signatures(tmp_path, transformed,
                                                                                        validated):
    with pytest.raises(ModelContractError, match=r"lacks the signature\(s\) \['score_catalogue', 'catalogue'\] "
                                                 r"of the recommender's model contract.*Export them from run_fn"):
        _train(tmp_path, transformed, validated, _module(tmp_path, NOT_A_RECOMMENDER), model_check=contract.MODEL_CHECK)
    assert not (tmp_path / "r.md").exists(), "a model the check refuses gets no report"


def test_without_a_model_check_any_saved_model_will_do(tmp_path, transformed, validated):
    figures = _train(tmp_path, transformed, validated, _module(tmp_path, NOT_A_RECOMMENDER))
    assert figures["signatures"] == ["serving_default"]


def test_a_model_check_from_a_file_is_called_with_the_loaded_serving_model(tmp_path, transformed, validated):
    check = tmp_path / "check.py"
    check.write_text("import pathlib\n"
                     "def check(model, model_dir):\n"
                     "    names = ','.join(model.signatures.keys())\n"
                     "    pathlib.Path(model_dir).parent.joinpath('checked').write_text(f'{model_dir} {names}')\n")
    figures = _train(tmp_path, transformed, validated, _module(tmp_path, NOT_A_RECOMMENDER), model_check=f"{check}:check")
    assert (tmp_path / "model" / "checked").read_text() == f"{figures['serving_model_dir']} serving_default"


@pytest.mark.parametrize("spec", ["kubetfx.pipelines.recommender.contract", "gs://b/check.py", "check.py:"])
def test_a_model_check_that_is_not_module_colon_function_is_refused_before_training(spec):
    with pytest.raises(ModuleFileError, match=f"model_check '{spec}' is not module:function"):
        executor.load_model_check(spec)


def test_tuned_hyperparameters_reach_run_fn_as_tfx_trainer_passes_them_with_pinned_values_over_them(tmp_path):
    import keras_tuner

    tuned = keras_tuner.HyperParameters()
    tuned.Choice("units", [8, 16], default=16)
    tuned.Float("learning_rate", 1e-3, 1e-1, default=0.01)
    (tmp_path / "tuned").mkdir()
    (tmp_path / "tuned" / "best_hyperparameters.txt").write_text(json.dumps(tuned.get_config()))
    given = executor.hyperparameters({"learning_rate": 0.05, "epochs": 2}, str(tmp_path / "tuned"))
    assert keras_tuner.HyperParameters.from_config(given).values == {"units": 16, "learning_rate": 0.05, "epochs": 2}
    assert given["space"] == tuned.get_config()["space"]
    assert executor.hyperparameters({"epochs": 2}, "") == {"epochs": 2}, "without a tuner, the values alone"


def test_a_hyperparameters_folder_without_one_keras_tuner_config_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError, match="holds 0 files; expected one, the tuner's best_hyperparameters.txt"):
        executor.hyperparameters({}, str(tmp_path / "empty"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "best_hyperparameters.txt").write_text('{"space": []}')
    with pytest.raises(InputDataError, match="best_hyperparameters.txt' is not a KerasTuner HyperParameters config"):
        executor.hyperparameters({}, str(tmp_path / "bad"))
