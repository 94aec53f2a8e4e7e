"""Distances between a feature's distribution in training (validate's statistics) and in a new
batch (its TFDV statistics), measured by TFDV's own comparators: Jensen-Shannon divergence for
numbers, L-infinity distance for categories.

Drift (new interaction data against training) is `tfdv.validate_statistics` with
`previous_statistics`, skew (serving's request log against training) with `serving_statistics`;
the measured values are read from the anomalies' `drift_skew_info`, so a distance under its
threshold is reported too.
"""
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

JENSEN_SHANNON = "jensen_shannon_divergence"
L_INFINITY = "l_infinity"
DRIFT, SKEW = "drift", "skew"  # TFDV's two comparisons
# TFDV measures nothing for a feature the batch lacks or has with another type: as far as it gets.
UNMEASURED = 1.0

Statistics = statistics_pb2.DatasetFeatureStatisticsList


def _name(feature: statistics_pb2.FeatureNameStatistics) -> str:
    return ".".join(feature.path.step) or feature.name


def metrics(stats: Statistics) -> dict[str, str]:
    """The metric each feature of `stats` with values is compared by, by name."""
    found = {}
    for feature in stats.datasets[0].features:
        if feature.HasField("num_stats") and feature.num_stats.common_stats.tot_num_values:
            found[_name(feature)] = JENSEN_SHANNON
        elif feature.HasField("string_stats") and feature.string_stats.common_stats.tot_num_values:
            found[_name(feature)] = L_INFINITY
    return found


def value_counts(stats: Statistics) -> dict[str, int]:
    """How many values each feature of `stats` has (multi-valued ones counted per value)."""
    return {_name(feature): (feature.num_stats if feature.HasField("num_stats") else feature.string_stats)
            .common_stats.tot_num_values for feature in stats.datasets[0].features}


def distances(training: Statistics, batch: Statistics, thresholds: dict[str, float], comparison: str) -> dict[str, float]:
    """TFDV's distance between training and the batch of each feature in `thresholds`.

    `comparison` is DRIFT or SKEW; every feature in `thresholds` must be in `metrics(training)`.
    """
    schema = _schema_with_comparators(training, thresholds, comparison)
    if comparison == DRIFT:
        anomalies = tfdv.validate_statistics(batch, schema, previous_statistics=training)
    else:
        anomalies = tfdv.validate_statistics(training, schema, serving_statistics=batch)
    measured = {".".join(info.path.step): measurement.value for info in anomalies.drift_skew_info
                for measurement in [*info.drift_measurements, *info.skew_measurements]}
    return {name: measured.get(name, UNMEASURED) for name in thresholds}


def _schema_with_comparators(training: Statistics, thresholds: dict[str, float], comparison: str) -> schema_pb2.Schema:
    schema = tfdv.infer_schema(training)
    compared_by = metrics(training)
    for name, threshold in thresholds.items():
        feature = tfdv.get_feature(schema, name)
        comparator = feature.drift_comparator if comparison == DRIFT else feature.skew_comparator
        measure = comparator.jensen_shannon_divergence if compared_by[name] == JENSEN_SHANNON else comparator.infinity_norm
        measure.threshold = threshold
    return schema
