"""The transform executor: tf.Transform on Beam with the reference module's preprocessing_fn."""
import pytest

from kubetfx.components.common import examples
from kubetfx.components.common.errors import ModuleFileError, TransformError
from kubetfx.components.transform import executor
from kubetfx.pipelines.recommender import names


def test_every_row_is_transformed_and_counted(transformed, ingested):
    _, transformed_examples, figures = transformed
    raw_rows = {split: examples.read_split(str(ingested), split).num_rows for split in names.SPLITS}
    assert figures[names.META_ROWS] == raw_rows
    for split in names.SPLITS:
        assert examples.read_split(str(transformed_examples), split).num_rows == raw_rows[split]


def test_vocabularies_are_learnt_from_train_only(transformed, ingested):
    import tensorflow_transform as tft

    graph, _, figures = transformed
    train_items = {v.decode() for v in examples.first_values(examples.read_split(str(ingested), names.TRAIN), names.ITEM_ID).to_pylist()}
    vocabulary = {v.decode() for v in tft.TFTransformOutput(str(graph)).vocabulary_by_name("item_id")}
    assert vocabulary == train_items
    assert figures["vocabularies"]["item_id"] == len(train_items)


def test_transformed_features_are_integer_indices(transformed):
    """The reference module's outputs: vocabulary indices (ids, categories, genres as a list per
    item), age and release year as buckets, the timestamp passed through as an integer; every other
    column too (the model decides in run_fn which it uses)."""
    import tensorflow_transform as tft

    from kubetfx.pipelines.recommender import module

    graph, transformed_examples, figures = transformed
    table = examples.read_split(str(transformed_examples), names.TRAIN)
    assert set(figures["transformed_features"]) == {
        "user_id", "item_id", "gender", "occupation", "age", "genres", "release_year", "timestamp",
        "rating", "zip_code", "title"}
    output = tft.TFTransformOutput(str(graph))
    for name in ("user_id", "item_id", "gender", "occupation"):
        values = examples.first_values(table, name).to_pylist()
        size = output.vocabulary_size_by_name(name)
        assert min(values) >= 0 and max(values) <= size, name  # index `size` is the OOV bucket
        assert len(set(values)) > 1, name
    ages = examples.first_values(table, "age").to_pylist()
    assert min(ages) >= 0 and max(ages) <= module.AGE_BUCKETS and len(set(ages)) > 2
    years = examples.first_values(table, "release_year").to_pylist()
    assert min(years) >= 0 and max(years) <= module.YEAR_BUCKETS and len(set(years)) > 2
    genres = table.column("genres").combine_chunks()
    genre_indices = genres.flatten().to_pylist()
    assert all(0 <= g <= output.vocabulary_size_by_name("genres") for g in genre_indices)
    assert len(genre_indices) >= len(table) and max(len(v) for v in genres.to_pylist()) > 1  # lists, some of several genres
    timestamps = examples.first_values(table, "timestamp")
    assert str(timestamps.type) == "int64" and len(set(timestamps.to_pylist())) > 1


def test_raw_metadata_is_written_for_serving(transformed):
    import tensorflow_transform as tft

    graph, _, _ = transformed
    assert "user_id" in tft.TFTransformOutput(str(graph)).raw_feature_spec()


def test_a_module_without_preprocessing_fn_is_named(tmp_path, ingested, validated):
    module = tmp_path / "my_module.py"
    module.write_text("def run_fn(fn_args):\n    pass\n")
    with pytest.raises(ModuleFileError, match=r"my_module.py' defines no function preprocessing_fn\(\)"):
        executor.run(str(ingested), str(validated), str(module), str(tmp_path / "g"), str(tmp_path / "e"), str(tmp_path / "r.md"))


def test_a_module_that_does_not_import_is_named(tmp_path, ingested, validated):
    module = tmp_path / "broken.py"
    module.write_text("import no_such_package_here\n")
    with pytest.raises(ModuleFileError, match="broken.py' failed to import: ModuleNotFoundError"):
        executor.run(str(ingested), str(validated), str(module), str(tmp_path / "g"), str(tmp_path / "e"), str(tmp_path / "r.md"))
    with pytest.raises(ModuleFileError, match="absent.py' does not exist"):
        executor.run(str(ingested), str(validated), str(tmp_path / "absent.py"), str(tmp_path / "g"), str(tmp_path / "e"), str(tmp_path / "r.md"))


def test_a_runner_that_loses_rows_fails_the_step_naming_the_split():
    read = {"train": 3_737_467, "eval": 1_262_533}
    executor.check_rows(read, dict(read), "/data/examples")
    with pytest.raises(TransformError, match=r"read 3,737,467 rows of split 'train' from /data/examples/Split-train/.* "
                                             r"but wrote 2,880,270 transformed rows"):
        executor.check_rows(read, {"train": 2_880_270, "eval": 1_262_533}, "/data/examples")
