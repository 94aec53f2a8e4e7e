"""The train executor: TFX's FnArgs for run_fn, and the exported model's contract."""
import dataclasses

import pytest

from kubetfx.components.common import names
from kubetfx.components.common.errors import ModelContractError, ModuleFileError
from kubetfx.components.train import executor, fn_args

TFX_FN_ARGS_FIELDS = {
    "working_dir", "train_files", "eval_files", "train_steps", "eval_steps", "schema_path", "schema_file",
    "transform_graph_path", "transform_output", "data_accessor", "serving_model_dir", "eval_model_dir",
    "model_run_dir", "base_model", "hyperparameters", "custom_config",
}


def test_fn_args_carries_every_field_of_tfx_fn_args():
    assert TFX_FN_ARGS_FIELDS <= {field.name for field in dataclasses.fields(fn_args.FnArgs)}


def test_data_accessor_reads_transformed_examples_through_tfxio(transformed):
    import tensorflow_transform as tft
    from tfx_bsl.public import tfxio

    graph, transformed_examples, _ = transformed
    args = executor.build_fn_args(str(transformed_examples), str(graph), "", "m", "r", 1, 1, {}, {})
    schema = tft.TFTransformOutput(str(graph)).transformed_metadata.schema
    dataset = args.data_accessor.tf_dataset_factory(args.train_files, tfxio.TensorFlowDatasetOptions(batch_size=8, label_key="item_id"), schema)
    features, labels = next(iter(dataset))
    assert labels.shape == (8,) and features["user_id"].shape == (8,)


def test_trained_model_recommends_catalogue_items_for_raw_features(trained):
    import tensorflow as tf

    model_dir, figures = trained
    assert set(names.REQUIRED_SIGNATURES) <= set(figures["signatures"])
    assert {"train_loss", "validation_loss"} <= set(figures["metrics"])
    loaded = tf.saved_model.load(figures["serving_model_dir"])
    catalogue = set(loaded.signatures["catalogue"]()["item_ids"].numpy())
    answer = loaded.signatures["serving_default"](
        user_id=tf.constant(["1", "never-seen-user"]), age=tf.constant([30, 40], tf.int64),
        gender=tf.constant(["F", "M"]), occupation=tf.constant(["student", "unknown-job"]))
    assert answer["item_ids"].shape[0] == 2 and set(answer["item_ids"].numpy().ravel()) <= catalogue
    scores = answer["scores"].numpy()
    assert (scores[:, :-1] >= scores[:, 1:]).all(), "recommendations come best first"


def _module(tmp_path, body: str):
    path = tmp_path / "user_module.py"
    path.write_text("import tensorflow as tf\n" + body)
    return str(path)


def _train(tmp_path, transformed, validated, module_file):
    graph, transformed_examples, _ = transformed
    return executor.run(str(transformed_examples), str(graph), str(validated), module_file, str(tmp_path / "model"),
                        str(tmp_path / "run"), str(tmp_path / "r.md"), train_steps=1, eval_steps=1)


def test_a_module_without_run_fn_is_named(tmp_path, transformed, validated):
    with pytest.raises(ModuleFileError, match=r"defines no function run_fn\(\)"):
        _train(tmp_path, transformed, validated, _module(tmp_path, "def preprocessing_fn(inputs):\n    return inputs\n"))


def test_run_fn_that_exports_nothing_is_caught(tmp_path, transformed, validated):
    with pytest.raises(ModelContractError, match="exported no SavedModel at fn_args.serving_model_dir"):
        _train(tmp_path, transformed, validated, _module(tmp_path, "def run_fn(fn_args):\n    pass\n"))


def test_a_model_without_the_catalogue_signatures_is_caught(tmp_path, transformed, validated):
    body = (
        "def run_fn(fn_args):\n"
        "    module = tf.Module()\n"
        "    module.f = tf.function(lambda x: {'y': x}, input_signature=[tf.TensorSpec([None], tf.float32)])\n"
        "    tf.saved_model.save(module, fn_args.serving_model_dir, signatures={'serving_default': module.f})\n"
    )
    with pytest.raises(ModelContractError, match=r"lacks the signature\(s\) \['score_catalogue', 'catalogue'\]"):
        _train(tmp_path, transformed, validated, _module(tmp_path, body))
