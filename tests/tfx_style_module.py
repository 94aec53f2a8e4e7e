"""A module file written for TFX's Transform and Trainer, as TFX's own examples write them
(penguin_utils_keras, taxi_utils_native_keras), knowing nothing of kubetfx: a churn classifier over
two numeric and two categorical features. tests/test_tfx_style_module.py runs it unchanged through
kubetfx's transform and train steps."""
from typing import List

import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

NUMERIC_FEATURES = ["age", "monthly_spend", "support_calls"]
CATEGORICAL_FEATURES = ["plan", "region"]
LABEL_KEY = "churned"

_BATCH_SIZE = 32


def preprocessing_fn(inputs):
    """tf.Transform: numbers scaled to z-scores, strings mapped to vocabulary indices."""
    outputs = {}
    for key in NUMERIC_FEATURES:
        outputs[key] = tft.scale_to_z_score(tf.cast(inputs[key], tf.float32))
    for key in CATEGORICAL_FEATURES:
        outputs[key] = tft.compute_and_apply_vocabulary(inputs[key], num_oov_buckets=1, vocab_filename=key)
    outputs[LABEL_KEY] = inputs[LABEL_KEY]
    return outputs


def _input_fn(file_pattern: List[str], data_accessor: tfx.components.DataAccessor,
              tf_transform_output: tft.TFTransformOutput, batch_size: int) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=LABEL_KEY),
        tf_transform_output.transformed_metadata.schema,
    ).repeat()


def _build_keras_model(tf_transform_output: tft.TFTransformOutput) -> tf.keras.Model:
    inputs = {key: tf.keras.layers.Input(shape=(1,), name=key, dtype=tf.float32) for key in NUMERIC_FEATURES}
    encoded = [inputs[key] for key in NUMERIC_FEATURES]
    for key in CATEGORICAL_FEATURES:
        inputs[key] = tf.keras.layers.Input(shape=(1,), name=key, dtype=tf.int64)
        depth = tf_transform_output.vocabulary_size_by_name(key) + 1  # + the out-of-vocabulary bucket
        encoded.append(tf.keras.layers.CategoryEncoding(num_tokens=depth, output_mode="one_hot")(inputs[key]))
    hidden = tf.keras.layers.Dense(16, activation="relu")(tf.keras.layers.concatenate(encoded))
    output = tf.keras.layers.Dense(1)(hidden)
    model = tf.keras.Model(inputs=inputs, outputs=output)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2),
                  loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0.0)])
    return model


def _get_serve_tf_examples_fn(model, tf_transform_output):
    """Serialized tf.Examples of raw features in, the churn logit and probability out, through the
    transform graph."""
    model.tft_layer = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized_tf_examples):
        feature_spec = tf_transform_output.raw_feature_spec()
        feature_spec.pop(LABEL_KEY)
        parsed_features = tf.io.parse_example(serialized_tf_examples, feature_spec)
        transformed_features = model.tft_layer(parsed_features)
        logits = model(transformed_features)
        return {"logits": logits, "probabilities": tf.sigmoid(logits)}

    return serve_tf_examples_fn


def run_fn(fn_args: tfx.components.FnArgs):
    """TFX's Trainer entry point: trains on the transformed splits, exports the serving model."""
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train_dataset = _input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output, _BATCH_SIZE)
    eval_dataset = _input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, _BATCH_SIZE)
    tf.keras.utils.set_random_seed(0)
    model = _build_keras_model(tf_transform_output)
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
