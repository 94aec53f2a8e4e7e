"""Distances between a feature's distribution in training (from validate's statistics) and in a
new batch, as TFDV computes them: Jensen-Shannon divergence for numbers, L-infinity distance
for categories.

Training's side is what the statistics keep: a 10-bucket histogram for numbers, the most frequent
values for categories. So numbers are compared over training's buckets (plus one bucket below
and one above training's range, where a shifted batch lands), and categories over training's top
values plus one bucket for all others; for small domains (gender, occupation) that is exact.
"""
import dataclasses

import numpy as np
from tensorflow_metadata.proto.v0 import statistics_pb2

JENSEN_SHANNON = "jensen_shannon_divergence"
L_INFINITY = "l_infinity"
OTHER = "<other>"


@dataclasses.dataclass(frozen=True)
class Reference:
    """One feature of the training statistics: numbers (bucket edges and counts) or categories (shares)."""

    name: str
    metric: str
    edges: np.ndarray | None = None
    counts: np.ndarray | None = None
    shares: dict[str, float] | None = None  # top values, and OTHER for the rest


def references(stats: statistics_pb2.DatasetFeatureStatisticsList) -> dict[str, Reference]:
    """Every feature of the (single) dataset in `stats` that has values, by name."""
    found = {}
    for feature in stats.datasets[0].features:
        name = ".".join(feature.path.step) or feature.name
        if feature.HasField("num_stats") and feature.num_stats.histograms:
            found[name] = _numeric(name, feature.num_stats)
        elif feature.HasField("string_stats") and feature.string_stats.common_stats.tot_num_values:
            found[name] = _categorical(name, feature.string_stats)
    return found


def _numeric(name: str, stats: statistics_pb2.NumericStatistics) -> Reference:
    standard = next(h for h in stats.histograms if h.type == statistics_pb2.Histogram.STANDARD)
    edges = np.array([bucket.low_value for bucket in standard.buckets] + [standard.buckets[-1].high_value])
    counts = np.array([bucket.sample_count for bucket in standard.buckets])
    return Reference(name, JENSEN_SHANNON, edges=edges, counts=counts)


def _categorical(name: str, stats: statistics_pb2.StringStatistics) -> Reference:
    total = stats.common_stats.tot_num_values
    shares = {top.value: top.frequency / total for top in stats.top_values}
    shares[OTHER] = max(0.0, 1.0 - sum(shares.values()))
    return Reference(name, L_INFINITY, shares=shares)


def distance(reference: Reference, values: np.ndarray) -> float:
    """How far the batch's `values` (numbers, or strings for categories) are from training's."""
    if not len(values):
        return 1.0  # a feature the batch never has is as far as it can be
    if reference.metric == JENSEN_SHANNON:
        return _numeric_distance(reference, values.astype(np.float64))
    return _categorical_distance(reference, values)


def _numeric_distance(reference: Reference, values: np.ndarray) -> float:
    edges = reference.edges
    inside = (values >= edges[0]) & (values <= edges[-1])
    batch, _ = np.histogram(values[inside], bins=edges)
    batch = np.concatenate([[np.sum(values < edges[0])], batch, [np.sum(values > edges[-1])]])
    training = np.concatenate([[0.0], reference.counts, [0.0]])
    return jensen_shannon(training, batch)


def _categorical_distance(reference: Reference, values: np.ndarray) -> float:
    known, counts = np.unique(values, return_counts=True)
    batch = dict.fromkeys(reference.shares, 0.0)
    for value, count in zip(known, counts):
        key = value if value in reference.shares and value != OTHER else OTHER
        batch[key] += count / len(values)
    return l_infinity(reference.shares, batch)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence of two histograms over the same buckets, in bits (0 to 1)."""
    p, q = np.asarray(p, np.float64) / np.sum(p), np.asarray(q, np.float64) / np.sum(q)
    mean = (p + q) / 2
    return float((_kl(p, mean) + _kl(q, mean)) / 2)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    present = p > 0
    return float(np.sum(p[present] * np.log2(p[present] / q[present])))


def l_infinity(p: dict[str, float], q: dict[str, float]) -> float:
    """The largest difference between two distributions' shares of any one value."""
    return float(max(abs(p.get(key, 0.0) - q.get(key, 0.0)) for key in set(p) | set(q)))
