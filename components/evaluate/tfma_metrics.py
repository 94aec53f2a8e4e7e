"""tensorflow-model-analysis over the scored eval examples, per slice.

Each eval pair (label 1) and a few catalogue items the user never met (label 0) carry the
model's percentile rank of that item for that user as `prediction`. TFMA then evaluates
model-agnostically (predictions already in the data), which skips re-running the model inside
Beam: the model was run once, in batches, by the ranking code.
"""
import numpy as np
import pyarrow as pa

LABEL = "label"
PREDICTION = "prediction"
METRICS = ("ExampleCount", "AUC", "AUCPrecisionRecall", "MeanLabel", "MeanPrediction", "BinaryCrossentropy")


def scored_examples(scores_for, data, catalogue: np.ndarray, negatives_per_positive: int, seed: int,
                    sample_size: int) -> pa.Table:
    """Positives from eval plus sampled negatives, with slice features; `scores_for(batch)` scores users.

    TFMA's cost is about a millisecond per example per slice family in Python, so it sees a
    seeded sample of `sample_size` examples (0: all); the ranking metrics cover every user."""
    from kubetfx.components.evaluate import ranking

    rng = np.random.default_rng(seed)
    position = {item: i for i, item in enumerate(catalogue)}
    interactions = data.interactions
    pos_items = np.array([position.get(item, -1) for item in interactions.eval_items])
    keep = pos_items >= 0
    users = np.concatenate([interactions.eval_users[keep], np.repeat(interactions.eval_users[keep], negatives_per_positive)])
    items = np.concatenate([pos_items[keep], rng.integers(0, len(catalogue), size=keep.sum() * negatives_per_positive)])
    labels = np.concatenate([np.ones(keep.sum()), np.zeros(keep.sum() * negatives_per_positive)])
    met = _met_keys(interactions, position, len(catalogue))
    drop = (labels == 0) & np.isin(users * len(catalogue) + items, met)
    users, items, labels = users[~drop], items[~drop], labels[~drop]
    if 0 < sample_size < len(users):
        chosen = np.sort(rng.choice(len(users), size=sample_size, replace=False))
        users, items, labels = users[chosen], items[chosen], labels[chosen]
    predictions = np.empty(len(users))
    for start in range(0, len(interactions.users), ranking.BATCH_USERS):
        batch = np.arange(start, min(start + ranking.BATCH_USERS, len(interactions.users)))
        rows = np.flatnonzero((users >= batch[0]) & (users <= batch[-1]))
        if len(rows):
            predictions[rows] = ranking.percentile_ranks(scores_for(batch), users[rows] - batch[0], items[rows])
    return _with_slices(users, catalogue[items], labels, predictions, data)


def _met_keys(interactions, position: dict, size: int) -> np.ndarray:
    from kubetfx.components.evaluate import ranking

    users = np.concatenate([interactions.train_users, interactions.eval_users])
    items = ranking.to_index(np.concatenate([interactions.train_items, interactions.eval_items]), position)
    keys = ranking.pair_keys(users, items, size)
    return keys[keys >= 0]


def _with_slices(users, item_ids, labels, predictions, data) -> pa.Table:
    columns = {LABEL: labels.astype(np.float32), PREDICTION: predictions.astype(np.float32)}
    features = data.user_features
    for name in ("gender", "age_bucket", "occupation", "user_activity"):
        if name in features.columns:
            columns[name] = [str(v) for v in features[name].to_numpy()[users]]
    groups = data.item_groups.reindex(item_ids)
    if "genres" in groups.columns:
        columns["genres"] = pa.array([list(v) if isinstance(v, list) else [] for v in groups["genres"]], pa.list_(pa.string()))
    columns["item_popularity_decile"] = groups["item_popularity_decile"].fillna("unknown").tolist()
    return pa.table(columns)


def evaluate(table: pa.Table, slice_features: list[str], output_path: str) -> dict:
    """Runs TFMA over `table`; returns {slice name → {metric → value}}, '' being overall."""
    import apache_beam as beam
    import tensorflow_model_analysis as tfma
    from tfx_bsl.public import tfxio

    from kubetfx.components.common import examples

    config = _eval_config([f for f in slice_features if f in table.column_names])
    lists = pa.table({name: examples.to_list_array(table.column(name).combine_chunks()) for name in table.column_names})
    records = [record for batch in lists.to_batches(max_chunksize=50_000) for record in _encode(batch)]
    source = tfxio.TFExampleBeamRecord(physical_format="inmem", telemetry_descriptors=["kubetfx", "evaluate"],
                                       raw_record_column_name=tfma.ARROW_INPUT_COLUMN)
    with beam.Pipeline() as pipeline:
        _ = (pipeline
             | beam.Create(records, reshuffle=False)
             | source.BeamSource(batch_size=10_000)
             | tfma.ExtractEvaluateAndWriteResults(eval_config=config, output_path=output_path))
    return _read(tfma.load_eval_result(output_path))


def _encode(batch):
    from tfx_bsl.coders import example_coder

    return example_coder.RecordBatchToExamples(batch)


def _eval_config(slice_features: list[str]):
    from tensorflow_model_analysis.proto import config_pb2

    config = config_pb2.EvalConfig()
    config.model_specs.add(label_key=LABEL, prediction_key=PREDICTION)
    spec = config.metrics_specs.add()
    for name in METRICS:
        spec.metrics.add(class_name=name)
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
