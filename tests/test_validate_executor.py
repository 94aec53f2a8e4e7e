"""The validate executor on tiny splits the tests write: statistics, schema, anomalies, report."""
import html
import math

import pyarrow as pa
import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from kubetfx.components.common import examples, fs
from kubetfx.components.common import schema as schema_io
from kubetfx.components.common.errors import ValidationError
from kubetfx.components.validate import executor
from kubetfx.pipelines.recommender import names

ROWS = 60
EVAL_ROWS = 20


def _table(rows: int = ROWS, **replace) -> pa.Table:
    """60 rows: an id per row, a scalar int, a two-value category, an optional float, a list feature."""
    columns = {
        "user_id": [f"u{i}" for i in range(rows)],  # 60 distinct values: an id, no domain
        "age": [20 + 10 * (i % 3) for i in range(rows)],  # 20, 30, 40
        "gender": ["F" if i % 3 == 0 else "M" for i in range(rows)],  # M twice as often as F
        "rating": [[0.0, 2.0, None, 4.0][i % 4] for i in range(rows)],  # a quarter missing
        "genres": pa.array([["a", "b"] if i % 2 else ["c"] for i in range(rows)]),  # one or two values
    }
    columns.update(replace)
    return pa.table({name: values for name, values in columns.items() if values is not None})


def _validate(root, train: pa.Table, eval_: pa.Table) -> dict:
    examples.write_split(train, str(root / "examples"), names.TRAIN)
    examples.write_split(eval_, str(root / "examples"), names.EVAL)
    return executor.run(str(root / "examples"), str(root / "statistics"), str(root / "schema"), str(root / "report.html"))


def _anomalies(root) -> list[dict]:
    return fs.read_json(str(root / "statistics" / names.ANOMALIES_FILE))


def _schema(root) -> schema_pb2.Schema:
    return schema_io.read(str(root / "schema" / names.SCHEMA_FILE))


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    figures = _validate(root, _table(), _table(EVAL_ROWS))
    return root, figures


def _feature_stats(root, split: str) -> dict:
    dataset = executor.load_statistics(str(root / "statistics"), split).datasets[0]
    return {feature.path.step[0]: feature for feature in dataset.features}


def test_tfdv_statistics_in_tfx_layout_match_hand_computed_figures(validated):
    root, figures = validated
    raw = (root / "statistics" / "Split-train" / "FeatureStats.pb").read_bytes()
    assert statistics_pb2.DatasetFeatureStatisticsList.FromString(raw).datasets[0].num_examples == ROWS
    train = _feature_stats(root, names.TRAIN)
    age, rating = train["age"].num_stats, train["rating"].num_stats
    assert (age.min, age.max, age.mean, age.median, age.common_stats.num_missing) == (20, 40, 30, 30, 0)
    # rating: 15 each of 0, 2 and 4, and 15 missing (null, as ingest writes a missing value).
    assert (rating.common_stats.num_missing, rating.common_stats.tot_num_values, rating.num_zeros) == (15, 45, 15)
    assert (rating.min, rating.max, rating.mean) == (0.0, 4.0, 2.0)
    assert rating.std_dev == pytest.approx(math.sqrt(8 / 3))
    assert train["rating"].type == statistics_pb2.FeatureNameStatistics.FLOAT
    quantiles = [h for h in rating.histograms if h.type == statistics_pb2.Histogram.QUANTILES]
    assert len(quantiles) == 1 and len(quantiles[0].buckets) == 10
    gender, genres = train["gender"].string_stats, train["genres"].string_stats.common_stats
    assert (gender.unique, gender.avg_length, gender.top_values[0].value, gender.top_values[0].frequency) == (2, 1.0, "M", 40)
    assert (genres.max_num_values, genres.avg_num_values, genres.tot_num_values) == (2, 1.5, 90)
    assert _feature_stats(root, names.EVAL)["age"].num_stats.common_stats.num_non_missing == EVAL_ROWS
    assert figures[names.META_ROWS] == {names.TRAIN: ROWS, names.EVAL: EVAL_ROWS}
    assert (figures["features"], figures["anomalies"], figures["blocking_anomalies"]) == (5, 0, 0)
    for split in names.SPLITS:  # TFDV's Anomalies proto, as ExampleValidator writes it
        raw = (root / "statistics" / f"Split-{split}" / names.ANOMALIES_PROTO_FILE).read_bytes()
        assert not anomalies_pb2.Anomalies.FromString(raw).anomaly_info


def test_schema_has_scalar_required_features_and_small_string_domains(validated):
    root, _ = validated
    schema = _schema(root)
    features = {feature.name: feature for feature in schema.feature}
    assert schema_pb2.FeatureType.Name(features["age"].type) == "INT"
    for name in ("age", "user_id", "gender"):
        assert features[name].HasField("shape") and not features[name].shape.dim, name
        assert features[name].presence.min_fraction == 1.0
    for name in ("rating", "genres"):
        assert not features[name].HasField("shape"), name
        assert features[name].presence.min_count == 1
    # rating is missing in a quarter of train's examples; genres is in every one.
    assert (features["rating"].presence.min_fraction, features["genres"].presence.min_fraction) == (0, 1)
    assert features["genres"].value_count.min == 1
    # Numbers may range one train range beyond train's: age 20 to 40 in train, 0 to 60 allowed.
    assert (features["age"].int_domain.min, features["age"].int_domain.max) == (0, 60)
    domains = {domain.name: list(domain.value) for domain in schema.string_domain}
    assert domains[features["gender"].domain] == ["F", "M"]
    assert not features["user_id"].domain and "user_id" not in domains


def test_schema_gives_dense_scalars_and_sparse_others_to_tft_and_tfxio(validated):
    import tensorflow as tf
    from tensorflow_transform.tf_metadata import schema_utils
    from tfx_bsl.public import tfxio

    root, _ = validated
    schema = _schema(root)
    spec = schema_utils.schema_as_feature_spec(schema).feature_spec
    assert spec["age"] == tf.io.FixedLenFeature([], tf.int64)
    assert spec["gender"] == tf.io.FixedLenFeature([], tf.string)
    assert isinstance(spec["rating"], tf.io.VarLenFeature) and isinstance(spec["genres"], tf.io.VarLenFeature)
    source = tfxio.TFExampleRecord(file_pattern=examples.split_pattern(str(root / "examples"), names.TRAIN), schema=schema)
    type_specs = source.TensorAdapter().TypeSpecs()
    assert type_specs["age"] == tf.TensorSpec([None], tf.int64)
    assert isinstance(type_specs["genres"], tf.SparseTensorSpec)


def _drop_age(table):
    return table.drop_columns(["age"])


def _age_as_text(table):
    return table.set_column(table.schema.get_field_index("age"), "age", pa.array(["20"] * table.num_rows))


def _rating_never_present(table):
    return table.set_column(table.schema.get_field_index("rating"), "rating", pa.array([None] * table.num_rows, pa.float32()))


def _no_rows(table):
    return table.slice(0, 0)


def _gender_sometimes_missing(table):
    values = ["F", None] * (table.num_rows // 2)
    return table.set_column(table.schema.get_field_index("gender"), "gender", pa.array(values))


def _age_multi_valued(table):
    return table.set_column(table.schema.get_field_index("age"), "age", pa.array([[20, 30]] * table.num_rows))


@pytest.mark.parametrize("break_eval, kind, expected", [
    (_drop_age, "missing_column", "eval: column 'age' is missing"),
    (_rating_never_present, "missing_column", "eval: column 'rating' is missing"),
    (_age_as_text, "type_change", "eval: column 'age' is BYTES, expected INT as in train"),
    (_no_rows, "empty_split", "eval: the split has no examples"),
    (_gender_sometimes_missing, "required_missing", "eval: column 'gender' is missing in 10 of 20 examples"),
    (_age_multi_valued, "multi_valued", "eval: column 'age' has up to 2 values in an example"),
])
def test_blocking_anomalies_fail_after_writing_the_report(tmp_path, break_eval, kind, expected):
    with pytest.raises(ValidationError, match=expected) as raised:
        _validate(tmp_path, _table(), break_eval(_table(EVAL_ROWS)))
    assert "removed or renamed" in str(raised.value)
    blocking = [a for a in _anomalies(tmp_path) if a["blocking"]]
    assert [(a["split"], a["kind"]) for a in blocking] == [(names.EVAL, kind)]
    report = (tmp_path / "report.html").read_text()
    assert html.escape(blocking[0]["message"]) in report and "FAIL" in report
    assert (tmp_path / "schema" / names.SCHEMA_FILE).exists()


def test_warnings_are_reported_without_failing(tmp_path):
    genders = ["X" if i % 4 == 0 else "M" for i in range(EVAL_ROWS)]
    ages = [1000] + [30] * (EVAL_ROWS - 1)
    figures = _validate(tmp_path, _table(), _table(EVAL_ROWS, gender=genders, age=ages, extra=[1] * EVAL_ROWS))
    warnings = {a["kind"]: a for a in _anomalies(tmp_path)}
    assert set(warnings) == {"unknown_value", "new_column", "out_of_range"}
    assert not any(a["blocking"] for a in warnings.values())
    assert warnings["unknown_value"]["feature"] == "gender"
    assert "eval: column 'gender': " in warnings["unknown_value"]["message"]
    assert "X (~25%)" in warnings["unknown_value"]["message"]
    assert warnings["new_column"]["feature"] == "extra"
    assert "far outside train's 20 to 40" in warnings["out_of_range"]["message"]
    assert (figures["anomalies"], figures["blocking_anomalies"]) == (3, 0)


def test_ingest_output_validates_with_a_schema_fit_for_transform(ingested, tmp_path):
    figures = executor.run(str(ingested), str(tmp_path / "statistics"), str(tmp_path / "schema"), str(tmp_path / "report.html"))
    assert figures["blocking_anomalies"] == 0
    features = {feature.name: feature for feature in _schema(tmp_path).feature}
    assert features[names.USER_ID].HasField("shape") and not features[names.USER_ID].domain
    assert features["gender"].HasField("shape") and features["gender"].domain
    assert not features["genres"].HasField("shape")
