"""The ranking pipeline's module file, written as TFX's own examples write theirs (preprocessing_fn for
Transform, run_fn(fn_args) for Trainer): a propensity classifier, the second stage of a recommender.

Given a user, an item the first stage (retrieval) proposed and the moment, it predicts the
probability that the user likes the item (pipelines/ranking/data.py: rated 4 or 5 once seen), from

- the user: id, age, gender, occupation (and the age group);
- the item: id, genres (a list), release year;
- the context: hour of day and weekday of the request (from its timestamp, inside the graph, so
  that serving computes them as training did), how many ratings the user and the item had before.

Ids get small embeddings, the other categories one-hot (genres multi-hot) vectors, counts their
log; two hidden layers on their concatenation give a logit, trained with binary cross-entropy so
that its sigmoid is a calibrated probability. The serving signature takes serialized tf.Examples of
the raw columns (the label left out) and returns `probabilities` and `logits`, as TFX's Evaluator
expects.
"""
from typing import List

import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

LABEL_KEY = "label"
ID_FEATURES = ["user_id", "item_id"]
CATEGORICAL_FEATURES = ["gender", "occupation", "age_bucket"]
NUMERIC_FEATURES = ["age", "release_year"]
COUNT_FEATURES = ["user_prior_ratings", "item_prior_ratings"]
GENRES = "genres"
TIMESTAMP = "timestamp"
HOUR, WEEKDAY = "hour", "weekday"
PREDICTION_KEY = "probabilities"

_SECONDS_PER_HOUR, _HOURS_PER_DAY, _DAYS_PER_WEEK = 3600, 24, 7
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday is 0)
DEFAULT_HYPERPARAMETERS = {"batch_size": 256, "learning_rate": 3e-3, "embedding_dim": 8, "hidden_units": [64, 32],
                           "l2": 1e-5, "dropout": 0.1, "seed": 0}


def _dense(feature):
    """A [batch] tensor from a [batch, 1] dense or a single-valued sparse input."""
    if isinstance(feature, tf.sparse.SparseTensor):
        feature = tf.sparse.to_dense(feature)
    return tf.reshape(feature, [-1])


def _as_string(feature):
    """Ids as strings, whether the table holds them as numbers or text."""
    return feature if feature.dtype == tf.string else tf.strings.as_string(feature)


def _genres(feature):
    """An item's genres as a [batch, None] sparse tensor of strings, from a list (one value per genre)
    or from text joined by '|' (a CSV cell)."""
    if not isinstance(feature, tf.sparse.SparseTensor):  # a dense column: one value per row
        feature = tf.sparse.from_dense(tf.reshape(feature, [tf.shape(feature)[0], -1]))
    return tf.strings.split(tf.RaggedTensor.from_sparse(feature), "|").merge_dims(1, 2).to_sparse()


def preprocessing_fn(inputs):
    """tf.Transform: ids and categories to vocabulary indices, genres to a list of indices, numbers to
    z-scores (counts after log1p), the timestamp to hour of day and weekday."""
    outputs = {}
    for key in ID_FEATURES + CATEGORICAL_FEATURES:
        outputs[key] = tft.compute_and_apply_vocabulary(_as_string(_dense(inputs[key])), num_oov_buckets=1,
                                                        vocab_filename=key)
    for key in NUMERIC_FEATURES:
        outputs[key] = tft.scale_to_z_score(tf.cast(_dense(inputs[key]), tf.float32))
    for key in COUNT_FEATURES:
        outputs[key] = tft.scale_to_z_score(tf.math.log1p(tf.cast(_dense(inputs[key]), tf.float32)))
    outputs[GENRES] = tft.compute_and_apply_vocabulary(_genres(inputs[GENRES]), num_oov_buckets=1,
                                                       vocab_filename=GENRES)
    hours = _dense(inputs[TIMESTAMP]) // _SECONDS_PER_HOUR
    outputs[HOUR] = hours % _HOURS_PER_DAY
    outputs[WEEKDAY] = (hours // _HOURS_PER_DAY + _EPOCH_WEEKDAY) % _DAYS_PER_WEEK
    outputs[LABEL_KEY] = _dense(inputs[LABEL_KEY])
    return outputs


def _input_fn(file_pattern: List[str], data_accessor: tfx.components.DataAccessor,
              tf_transform_output: tft.TFTransformOutput, batch_size: int, seed: int) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=LABEL_KEY, shuffle_seed=seed),
        tf_transform_output.transformed_metadata.schema,
    ).repeat()


def _vocabulary_size(tf_transform_output: tft.TFTransformOutput, name: str) -> int:
    return tf_transform_output.vocabulary_size_by_name(name) + 1  # + the out-of-vocabulary bucket


def _build_keras_model(tf_transform_output: tft.TFTransformOutput, hp: dict) -> tf.keras.Model:
    regularizer = tf.keras.regularizers.l2(hp["l2"])
    inputs, encoded = {}, []
    for key in ID_FEATURES:
        inputs[key] = tf.keras.layers.Input(shape=(), name=key, dtype=tf.int64)
        embedding = tf.keras.layers.Embedding(_vocabulary_size(tf_transform_output, key), hp["embedding_dim"],
                                              embeddings_regularizer=regularizer, name=f"{key}_embedding")
        encoded.append(embedding(inputs[key]))
    for key in CATEGORICAL_FEATURES:
        inputs[key] = tf.keras.layers.Input(shape=(), name=key, dtype=tf.int64)
        encoded.append(tf.one_hot(inputs[key], _vocabulary_size(tf_transform_output, key)))
    for key, depth in ((HOUR, _HOURS_PER_DAY), (WEEKDAY, _DAYS_PER_WEEK)):
        inputs[key] = tf.keras.layers.Input(shape=(), name=key, dtype=tf.int64)
        encoded.append(tf.one_hot(inputs[key], depth))
    for key in NUMERIC_FEATURES + COUNT_FEATURES:
        inputs[key] = tf.keras.layers.Input(shape=(), name=key, dtype=tf.float32)
        encoded.append(tf.expand_dims(inputs[key], -1))
    inputs[GENRES] = tf.keras.layers.Input(shape=(None,), name=GENRES, dtype=tf.int64, sparse=True)
    encoded.append(tf.keras.layers.CategoryEncoding(num_tokens=_vocabulary_size(tf_transform_output, GENRES),
                                                    output_mode="multi_hot")(inputs[GENRES]))
    hidden = tf.keras.layers.concatenate(encoded)
    for units in hp["hidden_units"]:
        hidden = tf.keras.layers.Dense(units, activation="relu", kernel_regularizer=regularizer)(hidden)
        hidden = tf.keras.layers.Dropout(hp["dropout"])(hidden)
    logit = tf.keras.layers.Dense(1)(hidden)
    model = tf.keras.Model(inputs=inputs, outputs=logit)
    model.compile(optimizer=tf.keras.optimizers.Adam(hp["learning_rate"]),
                  loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.AUC(from_logits=True, name="auc")])
    return model


def _get_serve_tf_examples_fn(model, tf_transform_output):
    """Serialized tf.Examples of raw columns in, the logit and the probability out, through the
    transform graph."""
    model.tft_layer = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized_tf_examples):
        feature_spec = tf_transform_output.raw_feature_spec()
        feature_spec.pop(LABEL_KEY)
        parsed_features = tf.io.parse_example(serialized_tf_examples, feature_spec)
        transformed_features = model.tft_layer(parsed_features)
        transformed_features.pop(LABEL_KEY, None)
        logits = model(transformed_features)
        return {"logits": logits, PREDICTION_KEY: tf.sigmoid(logits)}

    return serve_tf_examples_fn


def _hyperparameters(overrides) -> dict:
    """DEFAULT_HYPERPARAMETERS with `overrides`; whole numbers as ints (KFP passes a dict's numbers as floats)."""
    unknown = set(overrides or {}) - set(DEFAULT_HYPERPARAMETERS)
    if unknown:
        raise ValueError(f"unknown hyperparameters {sorted(unknown)}: the ranking module takes "
                         f"{sorted(DEFAULT_HYPERPARAMETERS)}")
    hp = {**DEFAULT_HYPERPARAMETERS, **(overrides or {})}
    for key in ("batch_size", "embedding_dim", "seed"):
        hp[key] = int(hp[key])
    hp["hidden_units"] = [int(units) for units in hp["hidden_units"]]
    return hp


def run_fn(fn_args: tfx.components.FnArgs):
    """TFX's Trainer entry point: trains on the transformed splits for fn_args.train_steps steps and
    exports the serving model. fn_args.hyperparameters overrides DEFAULT_HYPERPARAMETERS by name."""
    hp = _hyperparameters(fn_args.hyperparameters)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    tf.keras.utils.set_random_seed(hp["seed"])
    train_dataset = _input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output, hp["batch_size"],
                              hp["seed"])
    eval_dataset = _input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, hp["batch_size"],
                             hp["seed"])
    model = _build_keras_model(tf_transform_output, hp)
    model.fit(
        train_dataset,
        steps_per_epoch=fn_args.train_steps,
        validation_data=eval_dataset,
        validation_steps=fn_args.eval_steps,
        callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
        verbose=2,
    )
    signatures = {"serving_default": _get_serve_tf_examples_fn(model, tf_transform_output)}
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
