"""The generic statistics_gen, schema_gen and example_validator (TFX's own executors, TFDV) on a tiny
data set the test writes: TFX's layout (Split-*/FeatureStats.pb, schema.pbtxt, Split-*/SchemaDiff.pb),
a curated schema accepted in place of the inferred one, and blocking anomalies that stop the run
naming the split, the column and TFDV's description."""
import pyarrow as pa
import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2

from kubetfx.components.common import examples, names
from kubetfx.components.common.errors import InputDataError, ValidationError
from kubetfx.components.example_validator import executor as example_validator
from kubetfx.components.schema_gen import executor as schema_gen
from kubetfx.components.statistics_gen import executor as statistics_gen
from tfx_style_data import churn_frame


def _write(frame, uri, split):
    examples.write_split(pa.Table.from_pandas(frame, preserve_index=False), str(uri), split)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Clean train/eval examples, and a drifted copy whose eval has a plan never seen, ages as text
    and no region."""
    out = tmp_path_factory.mktemp("tfdv")
    frame = churn_frame(300, seed=5)
    _write(frame.iloc[:200], out / "clean", names.TRAIN)
    _write(frame.iloc[200:], out / "clean", names.EVAL)
    drifted = frame.iloc[200:].drop(columns=["region"]).assign(age=lambda f: f["age"].astype(str))
    drifted.loc[drifted.index[:5], "plan"] = "platinum"
    _write(frame.iloc[:200], out / "drifted", names.TRAIN)
    _write(drifted, out / "drifted", names.EVAL)
    for name in ("clean", "drifted"):
        statistics_gen.run(str(out / name), str(out / f"{name}-statistics"))
    schema_gen.run(str(out / "clean-statistics"), str(out / "schema"), exclude_splits=(names.EVAL,))
    return out


def test_statistics_are_written_per_split_as_tfx_lays_them_out(data, tmp_path):
    figures = statistics_gen.run(str(data / "clean"), str(tmp_path / "statistics"))
    assert figures["splits"] == [names.EVAL, names.TRAIN] and figures["rows"] == {names.TRAIN: 200, names.EVAL: 100}
    stats = tfdv.load_stats_binary(str(tmp_path / "statistics" / "Split-train" / names.FEATURE_STATS_FILE))
    assert {feature.path.step[0] for feature in stats.datasets[0].features} == {
        "age", "monthly_spend", "support_calls", "plan", "region", "churned"}


def test_statistics_skip_excluded_splits_and_take_a_schema(data, tmp_path):
    figures = statistics_gen.run(str(data / "clean"), str(tmp_path / "statistics"), schema_uri=str(data / "schema"),
                                 exclude_splits=(names.EVAL,))
    assert figures["splits"] == [names.TRAIN]
    assert not (tmp_path / "statistics" / "Split-eval").exists()


def test_the_schema_is_inferred_as_tfx_does(data):
    schema = tfdv.load_schema_text(str(data / "schema" / names.SCHEMA_FILE))
    features = {feature.name: feature for feature in schema.feature}
    assert set(features) == {"age", "monthly_spend", "support_calls", "plan", "region", "churned"}
    assert set(tfdv.get_domain(schema, "plan").value) == {"basic", "standard", "premium"}
    assert [dim.size for dim in features["age"].shape.dim] == [1]  # infer_feature_shape, TFX's default


def test_clean_data_has_no_anomaly(data, tmp_path):
    figures = example_validator.run(str(data / "clean-statistics"), str(data / "schema"), str(tmp_path / "anomalies"),
                                    fail_on_any_anomaly=True)
    assert figures["anomalies"] == [] and figures["blessed"] == {names.TRAIN: True, names.EVAL: True}
    assert (tmp_path / "anomalies" / "Split-eval" / names.ANOMALIES_PROTO_FILE).is_file()


def test_anomalies_are_recorded_per_split_and_column_without_stopping_unless_blocking(data, tmp_path):
    figures = example_validator.run(str(data / "drifted-statistics"), str(data / "schema"), str(tmp_path / "anomalies"))
    by_column = {a["column"]: a for a in figures["anomalies"]}
    assert {"age", "plan", "region"} <= set(by_column) and all(a["split"] == names.EVAL for a in by_column.values())
    assert "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in by_column["plan"]["types"]
    assert "platinum" in by_column["plan"]["description"]
    assert figures["blessed"] == {names.TRAIN: True, names.EVAL: False}
    anomalies = anomalies_pb2.Anomalies.FromString((tmp_path / "anomalies" / "Split-eval" / "SchemaDiff.pb").read_bytes())
    assert set(anomalies.anomaly_info) == set(by_column)
    assert (tmp_path / "anomalies" / names.ANOMALIES_FILE).is_file()


def test_blocking_anomalies_stop_the_run_naming_split_column_and_description(data, tmp_path):
    with pytest.raises(ValidationError) as raised:
        example_validator.run(str(data / "drifted-statistics"), str(data / "schema"), str(tmp_path / "anomalies"),
                              blocking_anomalies=("ENUM_TYPE_UNEXPECTED_STRING_VALUES",))
    message = str(raised.value)
    assert message.startswith("1 blocking anomaly") and "split 'eval', column 'plan'" in message
    assert "platinum" in message and "update the curated schema" in message
    assert (tmp_path / "anomalies" / "Split-eval" / "SchemaDiff.pb").is_file()  # written before stopping
    with pytest.raises(ValidationError, match="column 'region'"):
        example_validator.run(str(data / "drifted-statistics"), str(data / "schema"), str(tmp_path / "any"),
                              fail_on_any_anomaly=True)


def test_a_curated_schema_accepts_what_it_allows(data, tmp_path):
    curated = tfdv.load_schema_text(str(data / "schema" / names.SCHEMA_FILE))
    tfdv.get_domain(curated, "plan").value.append("platinum")
    (tmp_path / "curated").mkdir()
    tfdv.write_schema_text(curated, str(tmp_path / "curated" / names.SCHEMA_FILE))
    figures = example_validator.run(str(data / "drifted-statistics"), str(tmp_path / "curated" / names.SCHEMA_FILE),
                                    str(tmp_path / "anomalies"), blocking_anomalies=("ENUM_TYPE_UNEXPECTED_STRING_VALUES",))
    assert "plan" not in {a["column"] for a in figures["anomalies"]}


def test_unusable_inputs_are_refused_saying_what_to_give(data, tmp_path):
    with pytest.raises(example_validator.BlockingConfigError, match="'MISSING_COLUMN'.*SCHEMA_MISSING_COLUMN"):
        example_validator.run(str(data / "clean-statistics"), str(data / "schema"), str(tmp_path / "a"),
                              blocking_anomalies=("MISSING_COLUMN",))
    with pytest.raises(InputDataError, match="has no Split-<name>/ folder"):
        statistics_gen.run(str(tmp_path), str(tmp_path / "statistics"))
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "notes.txt").write_text("x")
    with pytest.raises(InputDataError, match="must hold schema.pbtxt and nothing else.*notes.txt"):
        example_validator.run(str(data / "clean-statistics"), str(tmp_path / "schema"), str(tmp_path / "a"))
