"""The generic example_gen (TFX's own ExampleGen executors): CSV, Parquet and TFRecord files to split
tf.Examples in TFX's layout, split by hash buckets, by a column's value, or kept as given; errors
that name the pattern or column before Beam starts."""
import pyarrow as pa
import pytest

from kubetfx.components.common import examples, names
from kubetfx.components.common.errors import InputDataError
from kubetfx.components.example_gen import executor as example_gen
from tfx_style_data import churn_frame

ROWS = 300


@pytest.fixture(scope="module")
def frame():
    return churn_frame(ROWS, seed=3)


def _rows(uri, split):
    return examples.read_split(str(uri), split).num_rows


def test_a_csv_folder_is_split_two_to_one_by_hash_as_tfx_lays_it_out(frame, tmp_path):
    (tmp_path / "csv").mkdir()
    frame.iloc[:200].to_csv(tmp_path / "csv" / "a.csv", index=False)
    frame.iloc[200:].to_csv(tmp_path / "csv" / "b.csv", index=False)
    figures = example_gen.run(str(tmp_path / "csv"), str(tmp_path / "examples"))
    assert figures["splits"] == [names.TRAIN, names.EVAL] and figures["file_format"] == "csv"
    train, evaluation = _rows(tmp_path / "examples", names.TRAIN), _rows(tmp_path / "examples", names.EVAL)
    assert train + evaluation == ROWS and 0.55 < train / ROWS < 0.8  # 2 : 1 by hash
    assert list((tmp_path / "examples" / "Split-train").glob("data_tfrecord-*.gz"))
    table = examples.read_split(str(tmp_path / "examples"), names.TRAIN)
    assert set(table.column_names) == set(frame.columns)
    assert pa.types.is_int64(table.schema.field("age").type.value_type)


def test_parquet_split_by_a_columns_value_keeps_each_value_in_one_split(frame, tmp_path):
    (tmp_path / "in").mkdir()
    frame.to_parquet(tmp_path / "in" / "customers.parquet", index=False)
    (tmp_path / "in" / "README.txt").write_text("not data")  # the pattern selects the data files only
    example_gen.run(str(tmp_path / "in" / "*.parquet"), str(tmp_path / "examples"),
                    split_buckets={"train": 3, "eval": 1}, partition_feature_name="region")
    regions = {split: set(examples.first_values(examples.read_split(str(tmp_path / "examples"), split),
                                                "region").to_pylist()) for split in names.SPLITS}
    assert regions[names.TRAIN] and regions[names.EVAL] and not regions[names.TRAIN] & regions[names.EVAL]
    assert _rows(tmp_path / "examples", names.TRAIN) + _rows(tmp_path / "examples", names.EVAL) == ROWS


def test_parquet_zeros_and_empty_strings_stay_values(tmp_path):
    """TFX's Parquet executor writes every falsy value (0, 0.0, False, '') as a missing feature: a
    label of 0 would vanish. Here they arrive as values; only nulls are missing."""
    import pandas as pd

    (tmp_path / "in").mkdir()
    frame = pd.DataFrame({"id": range(100), "label": [0, 1] * 50, "spend": [0.0, 2.5] * 50, "note": ["", "x"] * 50,
                          "age": pd.array([None, 30] * 50, dtype="Int64")})
    frame.to_parquet(tmp_path / "in" / "rows.parquet", index=False)
    figures = example_gen.run(str(tmp_path / "in"), str(tmp_path / "examples"))
    assert figures["file_format"] == "parquet"
    tables = [examples.read_split(str(tmp_path / "examples"), split) for split in names.SPLITS]

    def values(column):
        return [value for table in tables for value in examples.first_values(table, column).to_pylist()]

    assert sum(table.num_rows for table in tables) == 100
    assert sorted(values("label")) == [0] * 50 + [1] * 50
    assert values("spend").count(0.0) == 50 and values("note").count(b"") == 50
    assert values("age").count(None) == 50  # a null is missing, as it should be
    assert not (tmp_path / "examples" / example_gen.PARQUET_STAGING).exists()


def test_a_file_that_is_not_parquet_is_named(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(InputDataError, match="rows.parquet' is not a Parquet file"):
        example_gen.run(str(tmp_path / "in"), str(tmp_path / "examples"))


def test_tfrecord_splits_are_kept_as_given(frame, tmp_path):
    source = tmp_path / "source"
    examples.write_split(pa.Table.from_pandas(frame.iloc[:250], preserve_index=False), str(source), "train")
    examples.write_split(pa.Table.from_pandas(frame.iloc[250:], preserve_index=False), str(source), "test")
    figures = example_gen.run(str(source), str(tmp_path / "examples"),
                              input_splits={"train": "Split-train/*", "test": "Split-test/*"})
    assert figures["splits"] == ["train", "test"] and figures["file_format"] == "tfrecord"
    assert _rows(tmp_path / "examples", "train") == 250 and _rows(tmp_path / "examples", "test") == 50


def test_tfx_configs_given_as_json_are_used_as_they_are(frame, tmp_path):
    frame.to_csv(tmp_path / "all.csv", index=False)
    figures = example_gen.run(str(tmp_path / "all.csv"), str(tmp_path / "examples"),
                              output_config='{"split_config": {"splits": [{"name": "train", "hash_buckets": 9},'
                                            ' {"name": "eval", "hash_buckets": 1}, {"name": "test", "hash_buckets": 1}]}}')
    assert figures["splits"] == ["train", "eval", "test"]
    assert sum(_rows(tmp_path / "examples", split) for split in figures["splits"]) == ROWS


@pytest.mark.parametrize("setting, error, says", [
    ({"input_uri": "missing/*.csv"}, InputDataError, "no file matches '.*missing/\\*.csv' \\(split 'single_split'\\)"),
    ({"split_buckets": {"train": 0}}, example_gen.SplitConfigError, "at least 1"),
    ({"split_buckets": {"train": 1.5}}, example_gen.SplitConfigError, "whole number of buckets"),
    ({"input_uri": "notes.txt"}, InputDataError, "cannot tell the format of '.*notes.txt'.*file_format"),
    ({"input_splits": {"a": "*.csv", "b": "*.csv"}, "partition_feature_name": "region"},
     example_gen.SplitConfigError, "keeps the splits as given"),
    ({"input_uri": "."}, InputDataError, "matches the folder '.*sub'.*input_splits"),
    ({"output_config": "{'bad'"}, example_gen.SplitConfigError, "not a valid tfx.proto.example_gen_pb2.Output"),
    ({"partition_feature_name": "customer"}, InputDataError, "partition_feature_name 'customer'.*name a column"),
])
def test_settings_that_cannot_work_are_refused_saying_what_to_change(frame, tmp_path, setting, error, says):
    frame.iloc[:20].to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    setting = dict(setting)
    input_uri = str(tmp_path / setting.pop("input_uri", "data.csv"))
    with pytest.raises(error, match=says):
        example_gen.run(input_uri, str(tmp_path / "examples"), **setting)
