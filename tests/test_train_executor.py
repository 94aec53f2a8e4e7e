"""The train executor: TFX's FnArgs for run_fn, and the exported model's contract."""
import pytest

from kubetfx.components.common import names
from kubetfx.components.common.errors import ModelContractError, ModuleFileError
from kubetfx.components.train import executor


def test_run_fn_gets_tfx_own_fn_args_with_kubetfx_extras(transformed):
    from tfx import v1 as tfx

    graph, transformed_examples, _ = transformed
    args = executor.build_fn_args(str(transformed_examples), str(graph), "schema", "m", "r", 5, 2, {"a": 1}, {"b": 2},
                                  strategy="s")
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


def _train(tmp_path, transformed, validated, module_file, model_contract=True):
    graph, transformed_examples, _ = transformed
    return executor.run(str(transformed_examples), str(graph), str(validated), module_file, str(tmp_path / "model"),
                        str(tmp_path / "run"), str(tmp_path / "r.md"), train_steps=1, eval_steps=1,
                        model_contract=model_contract)


def test_a_module_without_run_fn_is_named(tmp_path, transformed, validated):
    with pytest.raises(ModuleFileError, match=r"defines no function run_fn\(\)"):
        _train(tmp_path, transformed, validated, _module(tmp_path, "def preprocessing_fn(inputs):\n    return inputs\n"))


def test_run_fn_that_exports_nothing_is_caught(tmp_path, transformed, validated):
    with pytest.raises(ModelContractError, match="exported no SavedModel at fn_args.serving_model_dir"):
        _train(tmp_path, transformed, validated, _module(tmp_path, "def run_fn(fn_args):\n    pass\n"))


NOT_A_RECOMMENDER = (
    "def run_fn(fn_args):\n"
    "    module = tf.Module()\n"
    "    module.f = tf.function(lambda x: {'y': x}, input_signature=[tf.TensorSpec([None], tf.float32)])\n"
    "    tf.saved_model.save(module, fn_args.serving_model_dir, signatures={'serving_default': module.f})\n"
)


def test_a_model_without_the_catalogue_signatures_is_caught(tmp_path, transformed, validated):
    with pytest.raises(ModelContractError, match=r"lacks the signature\(s\) \['score_catalogue', 'catalogue'\]"):
        _train(tmp_path, transformed, validated, _module(tmp_path, NOT_A_RECOMMENDER))


def test_without_the_model_contract_any_saved_model_will_do(tmp_path, transformed, validated):
    figures = _train(tmp_path, transformed, validated, _module(tmp_path, NOT_A_RECOMMENDER), model_contract=False)
    assert figures["signatures"] == ["serving_default"]
    with pytest.raises(ModelContractError, match="exported no SavedModel"):
        _train(tmp_path / "again", transformed, validated, _module(tmp_path, "def run_fn(fn_args):\n    pass\n"),
               model_contract=False)
