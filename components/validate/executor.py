"""Validate: statistics per split, a schema inferred from train, and each split checked against it.

TFDV cannot be installed next to this TensorFlow, so the work is done with pyarrow and numpy,
but the outputs are TFDV's: `DatasetFeatureStatisticsList` protos in TFX's layout
(`Split-<name>/FeatureStats.pb`) and a `tensorflow_metadata` Schema, which Facets, TFDV's
visualisers, tfx-bsl and TensorFlow Transform read as they are.

Blocking anomalies (a column missing, a type change, an empty split, a required feature absent
or multi-valued) fail the step, but only after the outputs and the report are written.
"""
import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from kubetfx.components.common import examples, fs, names, reports, timing
from kubetfx.components.common import schema as schema_io
from kubetfx.components.common.errors import ValidationError

TOP_VALUES = 10
QUANTILE_BUCKETS = 10
HISTOGRAM_BUCKETS = 10
# Above this many distinct train values a BYTES column is taken as an id or free text.
MAX_DOMAIN_SIZE = 50
VALUES_QUOTED = 5

INT, FLOAT, BYTES = "INT", "FLOAT", "BYTES"
_STATS_TYPES = {
    INT: statistics_pb2.FeatureNameStatistics.INT,
    FLOAT: statistics_pb2.FeatureNameStatistics.FLOAT,
    BYTES: statistics_pb2.FeatureNameStatistics.STRING,
}
_SCHEMA_TYPES = {INT: schema_pb2.INT, FLOAT: schema_pb2.FLOAT, BYTES: schema_pb2.BYTES}


@dataclasses.dataclass
class ColumnSummary:
    """One column of one split: its tf.Example type, its figures and, for BYTES, its value counts."""

    type: str | None
    figures: dict
    distinct: pa.Table | None = None  # columns `value` and `count`, one row per distinct value


# --- statistics ---------------------------------------------------------------------------


def summarise(table: pa.Table) -> dict[str, ColumnSummary]:
    """Figures of every column of a split, as read by `examples.read_split`."""
    return {name: _summarise_column(table.column(name).combine_chunks()) for name in table.column_names}


def _value_type(value_type: pa.DataType) -> str | None:
    if pa.types.is_integer(value_type):
        return INT
    if pa.types.is_floating(value_type):
        return FLOAT
    if pa.types.is_binary(value_type) or pa.types.is_large_binary(value_type) or pa.types.is_string(value_type):
        return BYTES
    return None  # a feature that never had a value list kind: nothing to infer from


def _summarise_column(lists: pa.Array) -> ColumnSummary:
    kind = _value_type(lists.type.value_type)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy()
    figures = {"type": kind, **_common_figures(lengths)}
    values = pc.list_flatten(lists)
    if kind in (INT, FLOAT):
        figures.update(_number_figures(values.to_numpy(zero_copy_only=False).astype(np.float64)))
        return ColumnSummary(kind, figures)
    if kind == BYTES:
        counts = pc.value_counts(values)
        distinct = pa.table({"value": counts.field("values"), "count": counts.field("counts")})
        figures.update(_string_figures(values, distinct))
        return ColumnSummary(kind, figures, distinct)
    return ColumnSummary(kind, figures)


def _common_figures(lengths: np.ndarray) -> dict:
    # An empty value list counts as missing: ingest writes missing values that way, and a
    # fixed-length (scalar) feature cannot be parsed from it.
    present = lengths[lengths > 0]
    return {
        "num_non_missing": int(present.size),
        "num_missing": int(lengths.size - present.size),
        "min_num_values": int(present.min()) if present.size else 0,
        "max_num_values": int(present.max()) if present.size else 0,
        "avg_num_values": float(present.mean()) if present.size else 0.0,
        "count": int(present.sum()),
    }


def _number_figures(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    figures = {"num_non_finite": int(values.size - finite.size)}
    if not finite.size:
        return figures
    quantiles = np.quantile(finite, np.linspace(0.0, 1.0, QUANTILE_BUCKETS + 1))
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BUCKETS)
    return figures | {
        "min": float(finite.min()),
        "max": float(finite.max()),
        "mean": float(finite.mean()),
        "std_dev": float(finite.std()),
        "num_zeros": int(np.count_nonzero(finite == 0)),
        "median": float(quantiles[QUANTILE_BUCKETS // 2]),
        "quantiles": quantiles.tolist(),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _string_figures(values: pa.Array, distinct: pa.Table) -> dict:
    return {
        "unique": distinct.num_rows,
        "top_values": [{"value": _text(row["value"]), "frequency": row["count"]}
                       for row in _most_frequent(distinct, TOP_VALUES).to_pylist()],
        "avg_length": float(pc.mean(pc.binary_length(values)).as_py() or 0.0),
    }


def _most_frequent(distinct: pa.Table, k: int) -> pa.Table:
    # Ties are broken by value so that the same data gives the same report.
    order = pc.select_k_unstable(distinct, k=min(k, distinct.num_rows),
                                 sort_keys=[("count", "descending"), ("value", "ascending")])
    return distinct.take(order)


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def statistics_proto(split: str, num_examples: int, columns: dict[str, ColumnSummary]) -> statistics_pb2.DatasetFeatureStatisticsList:
    """One split's figures as TFDV writes them (one dataset named after the split)."""
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add(name=split, num_examples=num_examples)
    for name, column in columns.items():
        if column.type is None:
            continue
        feature = dataset.features.add(type=_STATS_TYPES[column.type])
        feature.path.step.append(name)
        if column.type == BYTES:
            _fill_string_stats(feature.string_stats, column.figures)
        else:
            _fill_num_stats(feature.num_stats, column.figures)
    return stats


def _fill_common(common: statistics_pb2.CommonStatistics, figures: dict) -> None:
    common.num_non_missing = figures["num_non_missing"]
    common.num_missing = figures["num_missing"]
    common.min_num_values = figures["min_num_values"]
    common.max_num_values = figures["max_num_values"]
    common.avg_num_values = figures["avg_num_values"]
    common.tot_num_values = figures["count"]


def _fill_num_stats(stats: statistics_pb2.NumericStatistics, figures: dict) -> None:
    _fill_common(stats.common_stats, figures)
    if "mean" not in figures:
        return
    for field in ("mean", "std_dev", "num_zeros", "min", "median", "max"):
        setattr(stats, field, figures[field])
    edges, counts = figures["histogram"]["edges"], figures["histogram"]["counts"]
    standard = stats.histograms.add(type=statistics_pb2.Histogram.STANDARD)
    for low, high, count in zip(edges[:-1], edges[1:], counts):
        standard.buckets.add(low_value=low, high_value=high, sample_count=count)
    quantiles = figures["quantiles"]
    per_bucket = (figures["count"] - figures["num_non_finite"]) / QUANTILE_BUCKETS
    histogram = stats.histograms.add(type=statistics_pb2.Histogram.QUANTILES)
    for low, high in zip(quantiles[:-1], quantiles[1:]):
        histogram.buckets.add(low_value=low, high_value=high, sample_count=per_bucket)


def _fill_string_stats(stats: statistics_pb2.StringStatistics, figures: dict) -> None:
    _fill_common(stats.common_stats, figures)
    stats.unique = figures["unique"]
    stats.avg_length = figures["avg_length"]
    for rank, top in enumerate(figures["top_values"]):
        stats.top_values.add(value=top["value"], frequency=top["frequency"])
        stats.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=top["value"], sample_count=top["frequency"])


def statistics_path(statistics_uri: str, split: str) -> str:
    return fs.join(examples.split_uri(statistics_uri, split), names.FEATURE_STATS_FILE)


def write_statistics(statistics_uri: str, split: str, stats: statistics_pb2.DatasetFeatureStatisticsList) -> None:
    path = statistics_path(statistics_uri, split)
    fs.makedirs(examples.split_uri(statistics_uri, split))
    with fs.gfile().GFile(path, "wb") as f:
        f.write(stats.SerializeToString())


def load_statistics(statistics_uri: str, split: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Reads one split's statistics written by this step (TFX's `Split-<name>/FeatureStats.pb`)."""
    with fs.gfile().GFile(statistics_path(statistics_uri, split), "rb") as f:
        return statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())


# --- schema -------------------------------------------------------------------------------


def infer_schema(train: dict[str, ColumnSummary]) -> tuple[schema_pb2.Schema, list[dict]]:
    """The schema of the train split, and warnings for the columns left out of it."""
    schema = schema_pb2.Schema()
    warnings = []
    for name, column in train.items():
        if column.type is None or not column.figures["num_non_missing"]:
            warnings.append(_anomaly(names.TRAIN, name, "no_values", False,
                                     f"train: column '{name}' has no values in any example; it is left out of the schema"))
            continue
        _add_feature(schema, name, column)
    return schema, warnings


def _add_feature(schema: schema_pb2.Schema, name: str, column: ColumnSummary) -> None:
    feature = schema.feature.add(name=name, type=_SCHEMA_TYPES[column.type])
    figures = column.figures
    feature.presence.min_count = 1
    if not figures["num_missing"] and figures["max_num_values"] == 1:
        feature.presence.min_fraction = 1.0
        # An empty shape means a scalar: TFXIO and TFT then give dense [batch] tensors.
        feature.shape.SetInParent()
    else:
        feature.value_count.min = figures["min_num_values"]
        feature.value_count.max = figures["max_num_values"]
    domain = _string_domain(column)
    if domain is not None:
        schema.string_domain.add(name=name, value=domain)
        feature.domain = name


def _string_domain(column: ColumnSummary) -> list[str] | None:
    if column.type != BYTES or column.distinct.num_rows > MAX_DOMAIN_SIZE:
        return None
    try:
        return sorted(value.decode("utf-8") for value in column.distinct.column("value").to_pylist())
    except UnicodeDecodeError:
        return None  # a string domain holds text; raw bytes get none


def is_required(feature: schema_pb2.Feature) -> bool:
    return feature.HasField("shape")


# --- anomalies ----------------------------------------------------------------------------


def _anomaly(split: str, feature: str | None, kind: str, blocking: bool, message: str) -> dict:
    return {"split": split, "feature": feature, "kind": kind, "blocking": blocking, "message": message}


def find_anomalies(split: str, num_rows: int, columns: dict[str, ColumnSummary], schema: schema_pb2.Schema,
                   train: dict[str, ColumnSummary]) -> list[dict]:
    """Anomalies of one split against the schema inferred from `train`."""
    if not num_rows:
        return [_anomaly(split, None, "empty_split", True,
                         f"{split}: the split has no examples, expected rows of the same columns as train")]
    found = []
    for feature in schema.feature:
        found += _feature_anomalies(split, feature, columns.get(feature.name), schema, train[feature.name])
    for name in columns:
        if name not in train:
            found.append(_anomaly(split, name, "new_column", False,
                                  f"{split}: column '{name}' is not in train's schema; the later steps ignore it"))
    return found


def _feature_anomalies(split: str, feature: schema_pb2.Feature, column: ColumnSummary | None,
                       schema: schema_pb2.Schema, train_column: ColumnSummary) -> list[dict]:
    name = feature.name
    if column is None or not column.figures["num_non_missing"]:
        return [_anomaly(split, name, "missing_column", True,
                         f"{split}: column '{name}' is missing (no example has a value), expected as in train")]
    expected = schema_pb2.FeatureType.Name(feature.type)
    if column.type != expected:
        return [_anomaly(split, name, "type_change", True,
                         f"{split}: column '{name}' is {column.type or 'untyped'}, expected {expected} as in train")]
    found = _required_anomalies(split, name, column.figures) if is_required(feature) else []
    if feature.domain:
        found += _domain_anomalies(split, name, column, _domain_values(schema, feature.domain))
    if column.type != BYTES:
        found += _range_anomalies(split, name, column.figures, train_column.figures)
    return found


def _required_anomalies(split: str, name: str, figures: dict) -> list[dict]:
    found = []
    rows = figures["num_missing"] + figures["num_non_missing"]
    if figures["num_missing"]:
        found.append(_anomaly(split, name, "required_missing", True,
                              f"{split}: column '{name}' is missing in {figures['num_missing']:,} of {rows:,} examples, "
                              "expected in every example as in train"))
    if figures["max_num_values"] > 1:
        found.append(_anomaly(split, name, "multi_valued", True,
                              f"{split}: column '{name}' has up to {figures['max_num_values']} values in an example, "
                              "expected exactly one (a scalar in train)"))
    return found


def _domain_values(schema: schema_pb2.Schema, domain_name: str) -> list[str]:
    return next(list(domain.value) for domain in schema.string_domain if domain.name == domain_name)


def _domain_anomalies(split: str, name: str, column: ColumnSummary, domain: list[str]) -> list[dict]:
    known = pa.array([value.encode("utf-8") for value in domain], column.distinct.schema.field("value").type)
    outside = column.distinct.filter(pc.invert(pc.is_in(column.distinct.column("value"), value_set=known)))
    if not outside.num_rows:
        return []
    count = pc.sum(outside.column("count")).as_py()
    quoted = ", ".join(repr(_text(value)) for value in _most_frequent(outside, VALUES_QUOTED).column("value").to_pylist())
    return [_anomaly(split, name, "unknown_value", False,
                     f"{split}: column '{name}' has {count:,} values outside train's {len(domain)} known values, "
                     f"e.g. {quoted}")]


def _range_anomalies(split: str, name: str, figures: dict, train: dict) -> list[dict]:
    if "min" not in figures or "min" not in train:
        return []
    low, high = train["min"], train["max"]
    # "Far" is more than one train range beyond train's extremes: drift within that is not flagged.
    margin = (high - low) or abs(high) or 1.0
    if low - margin <= figures["min"] and figures["max"] <= high + margin:
        return []
    return [_anomaly(split, name, "out_of_range", False,
                     f"{split}: column '{name}' ranges from {figures['min']:g} to {figures['max']:g}, "
                     f"far outside train's {low:g} to {high:g}")]


# --- report -------------------------------------------------------------------------------


def _report(rows: dict, columns: dict, schema: schema_pb2.Schema, anomalies: list[dict]) -> str:
    blocking = sum(anomaly["blocking"] for anomaly in anomalies)
    summary = (f"<p>{reports.verdict(not blocking)} {blocking} blocking anomalies, "
               f"{len(anomalies) - blocking} warnings</p>")
    sections = [("Result", summary),
                ("Rows", reports.html_table(["split", "rows"], [[split, count] for split, count in rows.items()]))]
    for split in names.SPLITS:
        sections += _statistics_sections(split, columns[split])
    sections.append(("Schema (inferred from train)", _schema_table(schema)))
    sections.append(("Anomalies", _anomaly_table(anomalies)))
    return reports.html_page("Validate", sections)


def _statistics_sections(split: str, columns: dict[str, ColumnSummary]) -> list[tuple[str, str]]:
    numbers = [[name, c.type, *_cells(c.figures, ("num_non_missing", "num_missing", "count", "mean", "std_dev",
                                                   "num_zeros", "min", "median", "max"))]
               for name, c in columns.items() if c.type in (INT, FLOAT)]
    strings = [[name, *_cells(c.figures, ("num_non_missing", "num_missing", "count", "unique")), *_top_cells(c.figures),
                c.figures["avg_length"]] for name, c in columns.items() if c.type == BYTES]
    headers = ["feature", "examples with values", "missing", "values"]
    return [
        (f"{split}: numeric features", reports.html_table(
            [headers[0], "type", *headers[1:], "mean", "std dev", "zeros", "min", "median", "max"], numbers)),
        (f"{split}: string features", reports.html_table(
            [*headers, "unique", "top value", "top frequency", "avg length"], strings)),
    ]


def _cells(figures: dict, keys: tuple[str, ...]) -> list:
    return [figures.get(key, "-") for key in keys]


def _top_cells(figures: dict) -> list:
    top = figures["top_values"][0] if figures["top_values"] else {"value": "-", "frequency": "-"}
    return [top["value"], top["frequency"]]


def _schema_table(schema: schema_pb2.Schema) -> str:
    domains = {domain.name: len(domain.value) for domain in schema.string_domain}
    rows = []
    for feature in schema.feature:
        shape = "scalar" if is_required(feature) else f"{feature.value_count.min}..{feature.value_count.max} values"
        rows.append([feature.name, schema_pb2.FeatureType.Name(feature.type), is_required(feature), shape,
                     domains.get(feature.domain, "-")])
    return reports.html_table(["feature", "type", "required", "shape / value count", "domain size"], rows)


def _anomaly_table(anomalies: list[dict]) -> str:
    if not anomalies:
        return "<p>None.</p>"
    rows = [[a["split"], a["feature"] or "-", a["kind"], a["blocking"], a["message"]] for a in anomalies]
    css = ["fail" if a["blocking"] else "warn" for a in anomalies]
    return reports.html_table(["split", "feature", "kind", "blocking", "message"], rows, css)


# --- the step -----------------------------------------------------------------------------


def run(examples_uri: str, statistics_uri: str, schema_uri: str, report_path: str) -> dict:
    """Writes statistics, the schema, anomalies and the report; raises on blocking anomalies.

    Returns the figures for the artifacts' metadata: rows per split, schema features, anomalies.
    """
    watch = timing.Stopwatch()
    columns, rows = {}, {}
    for split in names.SPLITS:
        with timing.stage(names.TASK_VALIDATE, f"reading and summarising split {split}"):
            table = examples.read_split(examples_uri, split)
            rows[split], columns[split] = table.num_rows, summarise(table)
    schema, anomalies = infer_schema(columns[names.TRAIN])
    for split in names.SPLITS:
        anomalies += find_anomalies(split, rows[split], columns[split], schema, columns[names.TRAIN])
    with timing.stage(names.TASK_VALIDATE, "writing statistics, schema, anomalies and report"):
        _write_outputs(statistics_uri, schema_uri, rows, columns, schema, anomalies)
        fs.write_text(report_path, _report(rows, columns, schema, anomalies))
    blocking = [anomaly["message"] for anomaly in anomalies if anomaly["blocking"]]
    if blocking:
        raise ValidationError(_failure_message(blocking, report_path))
    return {
        names.META_ROWS: rows,
        "features": len(schema.feature),
        "anomalies": len(anomalies),
        "blocking_anomalies": len(blocking),
        names.META_WALL_SECONDS: watch.seconds,
    }


def _write_outputs(statistics_uri: str, schema_uri: str, rows: dict, columns: dict, schema: schema_pb2.Schema,
                   anomalies: list[dict]) -> None:
    for split in names.SPLITS:
        write_statistics(statistics_uri, split, statistics_proto(split, rows[split], columns[split]))
    readable = {split: {name: c.figures for name, c in columns[split].items()} for split in names.SPLITS}
    fs.write_json(fs.join(statistics_uri, names.STATISTICS_JSON), readable)
    fs.write_json(fs.join(statistics_uri, names.ANOMALIES_FILE), anomalies)
    schema_io.write(schema, fs.join(schema_uri, names.SCHEMA_FILE))


def _failure_message(blocking: list[str], report_path: str) -> str:
    listed = "\n".join(f"  - {message}" for message in blocking)
    return (f"validation found {len(blocking)} blocking anomalies:\n{listed}\n"
            "Fix the data so every split has train's columns and types, or re-run with the offending column "
            f"removed or renamed in the input. The report is at {report_path}.")
