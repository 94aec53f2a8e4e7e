"""tensorflow-model-analysis over the scored eval examples, per slice.

Each eval pair (label 1) and a few catalogue items the user never met (label 0) carry the
model's percentile rank of that item for that user as `prediction`. TFMA then evaluates
model-agnostically (predictions already in the data), which skips re-running the model inside
Beam: the predictions are taken from the scores the ranking pass computes anyway.

TFMA's evaluator works example by example in Python (about a millisecond per example and
slice on one core), so it sees a seeded sample of at most `sample_size` examples; the top-K
metrics always cover every eval user.
"""
import dataclasses

import numpy as np
import pyarrow as pa

from kubetfx.components.common import beam_options

LABEL = "label"
PREDICTION = "prediction"
# TFMA-native metrics that work without a model. Calibration, MeanLabel and MeanPrediction share
# one combiner, AUC and AUCPrecisionRecall another. BinaryCrossEntropy is left out: it doubles
# TFMA's time and is meaningless for percentile ranks, which are not probabilities.
METRICS = ("ExampleCount", "AUC", "AUCPrecisionRecall", "MeanLabel", "MeanPrediction", "Calibration")
NUM_THRESHOLDS = 1000  # AUC buckets: percentile ranks need no finer grid, and each slice costs less
_RESAMPLE_ROUNDS = 4
_BATCH_ROWS = 10_000


@dataclasses.dataclass
class ScoredPairs:
    """Sampled (user, catalogue item, label) triples, sorted by user; predictions filled batch by batch."""

    users: np.ndarray
    items: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    positives_available: int

    def on_batch(self, start: int, stop: int, scores: np.ndarray) -> None:
        """Fills the predictions of users [start, stop) from their raw catalogue scores."""
        from kubetfx.pipelines.recommender.components.evaluate import ranking

        low, high = np.searchsorted(self.users, [start, stop])
        if high > low:
            self.predictions[low:high] = ranking.percentile_ranks(scores, self.users[low:high] - start, self.items[low:high])


def sample_pairs(interactions, catalogue: np.ndarray, negatives_per_positive: int, seed: int,
                 sample_size: int) -> ScoredPairs:
    """Eval positives in the catalogue plus `negatives_per_positive` never-met items each (seeded);
    at most `sample_size` examples in all (0: no limit), positives sampled uniformly."""
    from kubetfx.pipelines.recommender.components.evaluate import ranking

    rng = np.random.default_rng(seed)
    size = len(catalogue)
    position = ranking.catalogue_index(catalogue)
    eval_items = ranking.to_index(interactions.eval_items, position)
    keep = eval_items >= 0
    pos_users, pos_items = interactions.eval_users[keep], eval_items[keep]
    available = len(pos_users)
    per_positive = 1 + max(negatives_per_positive, 0)
    if 0 < sample_size < available * per_positive:
        chosen = np.sort(rng.choice(available, size=max(sample_size // per_positive, 1), replace=False))
        pos_users, pos_items = pos_users[chosen], pos_items[chosen]
    met = ranking.sorted_unique(np.concatenate([
        ranking.pair_keys(interactions.train_users, ranking.to_index(interactions.train_items, position), size),
        ranking.pair_keys(interactions.eval_users, eval_items, size)]))
    neg_users = np.repeat(pos_users, max(negatives_per_positive, 0))
    neg_items = rng.integers(0, size, size=len(neg_users)) if size else np.zeros(0, dtype=np.int64)
    for _ in range(_RESAMPLE_ROUNDS):  # redraw items the user met; the few left after that are dropped
        clash = ranking.contains(met, ranking.pair_keys(neg_users, neg_items, size))
        if not clash.any():
            break
        neg_items[clash] = rng.integers(0, size, size=int(clash.sum()))
    valid = ~ranking.contains(met, ranking.pair_keys(neg_users, neg_items, size))
    users = np.concatenate([pos_users, neg_users[valid]])
    items = np.concatenate([pos_items, neg_items[valid]])
    labels = np.concatenate([np.ones(len(pos_users)), np.zeros(int(valid.sum()))]).astype(np.float32)
    order = np.argsort(users, kind="stable")
    return ScoredPairs(users=users[order], items=items[order], labels=labels[order],
                       predictions=np.full(len(users), np.nan), positives_available=available)


def with_slices(pairs: ScoredPairs, catalogue: np.ndarray, data, user_slices, item_slices) -> pa.Table:
    """The scored pairs as a table with each slice feature (user features by user, item groups by item)."""
    from kubetfx.pipelines.recommender.components.evaluate.slices import group_label, group_labels

    columns = {LABEL: pairs.labels.astype(np.float32), PREDICTION: pairs.predictions.astype(np.float32)}
    features = data.user_features
    for name in user_slices:
        if name in features.columns:
            labels = group_labels(features[name].to_numpy())
            columns[name] = labels[pairs.users].tolist()
    groups = data.item_groups.reindex(catalogue[pairs.items])
    for name in item_slices:
        if name not in groups.columns:
            continue
        if name == "genres":
            columns[name] = pa.array([list(v) if isinstance(v, list) else [] for v in groups[name]], pa.list_(pa.string()))
        else:
            columns[name] = [group_label(v) for v in groups[name]]
    return pa.table(columns)


def evaluate(table: pa.Table, slice_features: list[str], output_path: str) -> dict:
    """Runs TFMA over `table` (in process, beam_options); returns {slice name → {metric → value}}, '' being overall."""
    import apache_beam as beam
    import tensorflow_model_analysis as tfma

    from kubetfx.components.common import examples

    config = _eval_config([f for f in slice_features if f in table.column_names])
    # Arrow record batches of list columns, the form TFMA decodes tf.Examples to: no encoding round trip.
    lists = pa.table({name: examples.to_list_array(table.column(name).combine_chunks()) for name in table.column_names})
    with beam.Pipeline(options=beam_options.pipeline_options()) as pipeline:
        _ = (pipeline
             | beam.Create(lists.to_batches(max_chunksize=_BATCH_ROWS), reshuffle=False)
             | tfma.ExtractEvaluateAndWriteResults(eval_config=config, output_path=output_path))
    return _read(tfma.load_eval_result(output_path))


def _eval_config(slice_features: list[str]):
    import json

    from tensorflow_model_analysis.proto import config_pb2

    config = config_pb2.EvalConfig()
    config.model_specs.add(label_key=LABEL, prediction_key=PREDICTION)
    spec = config.metrics_specs.add()
    for name in METRICS:
        options = {"config": json.dumps({"num_thresholds": NUM_THRESHOLDS})} if name.startswith("AUC") else {}
        spec.metrics.add(class_name=name, **options)
    config.slicing_specs.add()
    for feature in slice_features:
        config.slicing_specs.add(feature_keys=[feature])
    return config


def _read(result) -> dict:
    slices = {}
    for slice_key, metrics in result.slicing_metrics:
        name = "" if not slice_key else "|".join(f"{k}={v}" for k, v in slice_key)
        values = metrics.get("", {}).get("", {})
        slices[name] = {metric: value.get("doubleValue") for metric, value in values.items() if "doubleValue" in value}
    return slices
