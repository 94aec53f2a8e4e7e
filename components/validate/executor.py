"""Validate: statistics per split, a schema inferred from train, and each split checked against it.

The work is TFX's own, done as its StatisticsGen, SchemaGen and ExampleValidator do it:
- statistics: TFDV's `GenerateStatistics` on Beam over each split's tf.Examples, written as
  `Split-<name>/FeatureStats.pb` (a `DatasetFeatureStatisticsList`);
- the schema: `tfdv.infer_schema` over train's statistics, written as `schema.pbtxt`, with the
  few settings kubetfx adds (see `infer_schema`);
- anomalies: `tfdv.validate_statistics` of every split against that schema, written as
  `Split-<name>/SchemaDiff.pb` (TFDV's `Anomalies`, ExampleValidator's file name).

What TFX lacks is kept: each anomaly is also one line naming the split and the column
(`anomalies.json`), an HTML report, and blocking anomalies (a split without examples, a column
missing, a type change, a required feature absent or multi-valued) fail the step naming the column
and the fix, but only after the outputs and the report are written.
"""
import dataclasses

import apache_beam as beam
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from kubetfx.components.common import beam_examples, beam_options, examples, fs, names, reports, timing
from kubetfx.components.common import schema as schema_io
from kubetfx.components.common.errors import ValidationError

# Above this many distinct train values a BYTES column is taken as an id or free text: no domain.
MAX_DOMAIN_SIZE = 50
_TELEMETRY = ["kubetfx", names.TASK_VALIDATE]

Statistics = statistics_pb2.DatasetFeatureStatisticsList


# --- statistics ---------------------------------------------------------------------------


def example_source(examples_uri: str, split: str) -> beam.PTransform:
    """A split's tf.Examples as Arrow record batches, decoded by TFXIO as StatisticsGen decodes them."""
    return beam_examples.ReadExamples(examples.split_pattern(examples_uri, split), telemetry_descriptors=_TELEMETRY)


def table_source(table) -> beam.PTransform:
    """An in-memory table of list columns (as `examples.read_split` gives) as record batches."""
    return beam.Create(table.to_batches())


def generate_statistics(sources: dict[str, beam.PTransform], statistics_uri: str,
                        beam_pipeline_args: list[str] | None = None) -> dict[str, Statistics]:
    """TFDV's statistics of each split, in one Beam pipeline, written in TFX's layout and returned."""
    # TFDV's sketches count distinct and top values in its combiners instead of shuffling a
    # (feature, value) count per batch: at 1M rows 55 s -> 34 s, the same schema inferred. Below
    # 16,384 distinct values (KMV) and 1,024 (Misra-Gries) both are exact, so every domain is.
    options = tfdv.StatsOptions(use_sketch_based_topk_uniques=True)
    with beam.Pipeline(options=beam_options.pipeline_options(beam_pipeline_args)) as pipeline:
        for split, source in sources.items():
            fs.makedirs(examples.split_uri(statistics_uri, split))
            _ = (pipeline
                 | f"Read[{split}]" >> source
                 | f"GenerateStatistics[{split}]" >> tfdv.GenerateStatistics(options)
                 | f"WriteStatsOutput[{split}]" >> tfdv.WriteStatisticsToBinaryFile(statistics_path(statistics_uri, split)))
    return {split: load_statistics(statistics_uri, split) for split in sources}


def statistics_path(statistics_uri: str, split: str) -> str:
    return fs.join(examples.split_uri(statistics_uri, split), names.FEATURE_STATS_FILE)


def load_statistics(statistics_uri: str, split: str) -> Statistics:
    """Reads one split's statistics written by this step (TFX's `Split-<name>/FeatureStats.pb`)."""
    return tfdv.load_stats_binary(statistics_path(statistics_uri, split))


def _features(stats: Statistics) -> dict[str, statistics_pb2.FeatureNameStatistics]:
    return {".".join(feature.path.step) or feature.name: feature for feature in stats.datasets[0].features}


def _common(feature: statistics_pb2.FeatureNameStatistics) -> statistics_pb2.CommonStatistics:
    return feature.num_stats.common_stats if feature.HasField("num_stats") else feature.string_stats.common_stats


def _type_name(feature: statistics_pb2.FeatureNameStatistics) -> str:
    # tf.Example's names: TFDV's STRING statistics are of a BYTES feature.
    name = statistics_pb2.FeatureNameStatistics.Type.Name(feature.type)
    return "BYTES" if name == "STRING" else name


# --- schema -------------------------------------------------------------------------------


def infer_schema(train: Statistics) -> schema_pb2.Schema:
    """TFDV's schema of the train split, with what kubetfx adds to it.

    - A feature always present with one value is a scalar (an empty shape, not TFDV's [1]): TFT
      and TFXIO then give [batch] tensors, the shape the model contract's raw features have.
    - Numbers get a domain of train's range widened by its width on each side (not below zero
      where train has no negative value), so that TFDV flags values far outside train's range
      and not every value a little beyond it.
    """
    return tfdv.infer_schema(train, max_string_domain_size=MAX_DOMAIN_SIZE,
                             schema_transformations=[_scalars, _expected_ranges])


def _scalars(schema: schema_pb2.Schema, _) -> schema_pb2.Schema:
    for feature in schema.feature:
        if [dim.size for dim in feature.shape.dim] == [1]:
            del feature.shape.dim[:]
    return schema


def _expected_ranges(schema: schema_pb2.Schema, train: statistics_pb2.DatasetFeatureStatistics) -> schema_pb2.Schema:
    stats = {".".join(feature.path.step) or feature.name: feature for feature in train.features}
    for feature in schema.feature:
        numbers = stats[feature.name].num_stats
        if not numbers.common_stats.tot_num_values:
            continue
        low, high = _widened(numbers.min, numbers.max)
        if feature.type == schema_pb2.INT:
            feature.int_domain.min, feature.int_domain.max = int(low // 1), -int(-high // 1)
        elif feature.type == schema_pb2.FLOAT:
            feature.float_domain.min, feature.float_domain.max = low, high
    return schema


def _widened(low: float, high: float) -> tuple[float, float]:
    margin = (high - low) or abs(high) or 1.0
    # A sign train never had is far outside too: a negative age or price is a bug, not drift.
    return (low - margin if low < 0 else max(low - margin, 0.0)), high + margin


def is_required(feature: schema_pb2.Feature) -> bool:
    """A scalar feature: present with exactly one value in every example."""
    return feature.HasField("shape") and not feature.shape.dim


# --- anomalies ----------------------------------------------------------------------------

# TFDV's anomaly types as kubetfx's kinds, and whether they stop the run.
_KINDS = {
    "SCHEMA_MISSING_COLUMN": ("missing_column", True),
    # A column with no value in any example, or in fewer than the schema's min_count (1).
    "FEATURE_TYPE_NOT_PRESENT": ("missing_column", True),
    "FEATURE_TYPE_LOW_NUMBER_PRESENT": ("missing_column", True),
    "UNEXPECTED_DATA_TYPE": ("type_change", True),
    "SCHEMA_NEW_COLUMN": ("new_column", False),
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES": ("unknown_value", False),
    **dict.fromkeys(["INT_TYPE_SMALL_INT", "INT_TYPE_BIG_INT", "FLOAT_TYPE_SMALL_FLOAT", "FLOAT_TYPE_BIG_FLOAT"],
                    ("out_of_range", False)),
}
# What TFDV reports when a feature is absent from, or has other value counts than, its schema.
_PRESENCE_TYPES = {"INVALID_FEATURE_SHAPE", "FEATURE_TYPE_LOW_FRACTION_PRESENT", "FEATURE_TYPE_LOW_NUMBER_VALUES",
                   "FEATURE_TYPE_HIGH_NUMBER_VALUES"}


@dataclasses.dataclass(frozen=True)
class _Split:
    """One split as the messages describe it: its name, statistics and train's."""

    name: str
    stats: Statistics
    train: Statistics

    @property
    def rows(self) -> int:
        return self.stats.datasets[0].num_examples


def _anomaly(split: str, feature: str | None, kind: str, blocking: bool, message: str) -> dict:
    return {"split": split, "feature": feature, "kind": kind, "blocking": blocking, "message": message}


def find_anomalies(split: _Split, schema: schema_pb2.Schema, found: anomalies_pb2.Anomalies) -> list[dict]:
    """TFDV's anomalies of one split as kubetfx's: one line per kind and column, naming both."""
    if not split.rows:  # TFDV finds nothing wrong with statistics of no examples
        return [_anomaly(split.name, None, "empty_split", True,
                         f"{split.name}: the split has no examples, expected rows of the same columns as train")]
    listed = [_anomaly(split.name, None, anomalies_pb2.AnomalyInfo.Type.Name(reason.type).lower(), False,
                       f"{split.name}: {reason.description}") for reason in found.dataset_anomaly_info.reason]
    features = {feature.name: feature for feature in schema.feature}
    for name, info in sorted(found.anomaly_info.items()):
        listed += _feature_anomalies(split, name, features.get(name), info)
    return listed


def _feature_anomalies(split: _Split, name: str, feature: schema_pb2.Feature | None,
                       info: anomalies_pb2.AnomalyInfo) -> list[dict]:
    kinds = {}
    for reason in info.reason:
        kind = _kind(split, name, feature, anomalies_pb2.AnomalyInfo.Type.Name(reason.type))
        kinds.setdefault(kind, []).append(reason.description)
    return [_anomaly(split.name, name, kind, blocking, _message(split, name, feature, kind, descriptions))
            for (kind, blocking), descriptions in kinds.items()]


def _kind(split: _Split, name: str, feature: schema_pb2.Feature | None, tfdv_type: str) -> tuple[str, bool]:
    if tfdv_type in _KINDS:
        return _KINDS[tfdv_type]
    if tfdv_type in _PRESENCE_TYPES and feature is not None and is_required(feature):
        return ("multi_valued", True) if _common(_features(split.stats)[name]).max_num_values > 1 \
            else ("required_missing", True)
    return tfdv_type.lower(), False


def _message(split: _Split, name: str, feature: schema_pb2.Feature | None, kind: str, descriptions: list[str]) -> str:
    where = f"{split.name}: column '{name}'"
    stats = _features(split.stats).get(name)
    if kind == "missing_column":
        return f"{where} is missing (no example has a value), expected as in train"
    if kind == "type_change":
        return f"{where} is {_type_name(stats)}, expected {schema_pb2.FeatureType.Name(feature.type)} as in train"
    if kind == "required_missing":
        missing = _common(stats).num_missing
        return (f"{where} is missing in {missing:,} of {split.rows:,} examples, expected in every example as in train"
                if missing else f"{where} has no value in some examples, expected exactly one as in train")
    if kind == "multi_valued":
        return (f"{where} has up to {_common(stats).max_num_values} values in an example, "
                "expected exactly one (a scalar in train)")
    if kind == "out_of_range":
        train = _features(split.train)[name].num_stats
        return (f"{where} ranges from {stats.num_stats.min:g} to {stats.num_stats.max:g}, "
                f"far outside train's {train.min:g} to {train.max:g}")
    return f"{where}: " + " ".join(description.strip() for description in descriptions)


# --- report -------------------------------------------------------------------------------


def _report(stats: dict[str, Statistics], schema: schema_pb2.Schema, anomalies: list[dict]) -> str:
    blocking = sum(anomaly["blocking"] for anomaly in anomalies)
    summary = (f"<p>{reports.verdict(not blocking)} {blocking} blocking anomalies, "
               f"{len(anomalies) - blocking} warnings</p>")
    rows = [[split, split_stats.datasets[0].num_examples] for split, split_stats in stats.items()]
    sections = [("Result", summary), ("Rows", reports.html_table(["split", "rows"], rows))]
    for split, split_stats in stats.items():
        sections += _statistics_sections(split, split_stats)
    sections.append(("Schema (inferred from train)", _schema_table(schema)))
    sections.append(("Anomalies", _anomaly_table(anomalies)))
    return reports.html_page("Validate", sections)


def _statistics_sections(split: str, stats: Statistics) -> list[tuple[str, str]]:
    numbers, strings = [], []
    for name, feature in _features(stats).items():
        common = _common(feature)
        counts = [common.num_non_missing, common.num_missing, common.tot_num_values]
        if feature.HasField("num_stats"):
            n = feature.num_stats
            numbers.append([name, _type_name(feature), *counts, n.mean, n.std_dev, n.num_zeros, n.min, n.median, n.max])
        elif feature.HasField("string_stats"):
            s = feature.string_stats
            top = [s.top_values[0].value, int(s.top_values[0].frequency)] if s.top_values else ["-", "-"]
            strings.append([name, *counts, s.unique, *top, s.avg_length])
    headers = ["feature", "examples with values", "missing", "values"]
    return [
        (f"{split}: numeric features", reports.html_table(
            [headers[0], "type", *headers[1:], "mean", "std dev", "zeros", "min", "median", "max"], numbers)),
        (f"{split}: string features", reports.html_table(
            [*headers, "unique (estimated above 16,384)", "top value", "top frequency", "avg length"], strings)),
    ]


def _schema_table(schema: schema_pb2.Schema) -> str:
    domains = {domain.name: len(domain.value) for domain in schema.string_domain}
    rows = []
    for feature in schema.feature:
        shape = "scalar" if is_required(feature) else (
            f"{feature.value_count.min}..{feature.value_count.max or 'any'} values"
            if feature.HasField("value_count") else "any values")
        domain = (domains.get(feature.domain, "-") if feature.domain else
                  f"{feature.int_domain.min} to {feature.int_domain.max}" if feature.HasField("int_domain") else
                  f"{feature.float_domain.min:g} to {feature.float_domain.max:g}" if feature.HasField("float_domain") else "-")
        rows.append([feature.name, schema_pb2.FeatureType.Name(feature.type), is_required(feature), shape, domain])
    return reports.html_table(["feature", "type", "required", "shape / value count", "domain (values or range)"], rows)


def _anomaly_table(anomalies: list[dict]) -> str:
    if not anomalies:
        return "<p>None.</p>"
    rows = [[a["split"], a["feature"] or "-", a["kind"], a["blocking"], a["message"]] for a in anomalies]
    css = ["fail" if a["blocking"] else "warn" for a in anomalies]
    return reports.html_table(["split", "feature", "kind", "blocking", "message"], rows, css)


# --- the step -----------------------------------------------------------------------------


def run(examples_uri: str, statistics_uri: str, schema_uri: str, report_path: str,
        beam_pipeline_args: list[str] | None = None) -> dict:
    """Writes statistics, the schema, anomalies and the report; raises on blocking anomalies.

    Returns the figures for the artifacts' metadata: rows per split, schema features, anomalies.
    """
    watch = timing.Stopwatch()
    with timing.stage(names.TASK_VALIDATE, "TFDV statistics of every split on Beam"):
        sources = {split: example_source(examples_uri, split) for split in names.SPLITS}
        stats = generate_statistics(sources, statistics_uri, beam_pipeline_args)
    with timing.stage(names.TASK_VALIDATE, "inferring the schema and checking every split against it"):
        schema = infer_schema(stats[names.TRAIN])
        anomalies = []
        for split in names.SPLITS:
            found = tfdv.validate_statistics(stats[split], schema)
            _write_proto(fs.join(examples.split_uri(statistics_uri, split), names.ANOMALIES_PROTO_FILE), found)
            anomalies += find_anomalies(_Split(split, stats[split], stats[names.TRAIN]), schema, found)
    fs.write_json(fs.join(statistics_uri, names.ANOMALIES_FILE), anomalies)
    schema_io.write(schema, fs.join(schema_uri, names.SCHEMA_FILE))
    fs.write_text(report_path, _report(stats, schema, anomalies))
    blocking = [anomaly["message"] for anomaly in anomalies if anomaly["blocking"]]
    if blocking:
        raise ValidationError(_failure_message(blocking, report_path))
    return {
        names.META_ROWS: {split: stats[split].datasets[0].num_examples for split in names.SPLITS},
        "features": len(schema.feature),
        "anomalies": len(anomalies),
        "blocking_anomalies": len(blocking),
        names.META_WALL_SECONDS: watch.seconds,
    }


def _write_proto(path: str, message) -> None:
    with fs.gfile().GFile(path, "wb") as f:
        f.write(message.SerializeToString())


def _failure_message(blocking: list[str], report_path: str) -> str:
    listed = "\n".join(f"  - {message}" for message in blocking)
    return (f"validation found {len(blocking)} blocking anomalies:\n{listed}\n"
            "Fix the data so every split has train's columns and types, or re-run with the offending column "
            f"removed or renamed in the input. The report is at {report_path}.")
