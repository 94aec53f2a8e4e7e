"""The reference recommender's module file, written exactly as a user writes theirs for TFX:
`preprocessing_fn(inputs)` for Transform and `run_fn(fn_args)` for Trainer.

The model retrieves over the whole catalogue: a user tower (id, gender, occupation, age) makes a
user vector, and a softmax layer whose weights are the item embeddings scores every item. The
exported SavedModel takes raw user features (the transform graph is inside it) and follows the
kubetfx model contract: `serving_default` (top-K item ids and scores), `score_catalogue`
(a score for every catalogue item) and `catalogue` (the item ids those scores refer to).
"""
import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

USER_ID = "user_id"
ITEM_ID = "item_id"
AGE = "age"
CATEGORICAL_USER_FEATURES = ("gender", "occupation")
USER_RAW_FEATURES = (USER_ID, AGE) + CATEGORICAL_USER_FEATURES
AGE_BUCKETS = 6
ITEM_VOCABULARY = "item_id"

DEFAULT_HYPERPARAMETERS = {
    "batch_size": 256,
    "epochs": 8,
    "embedding_dim": 48,
    "hidden_units": 128,
    "dropout": 0.3,
    "learning_rate": 0.002,
    "top_k": 100,
}


def _dense(feature, default):
    """A [batch] tensor from a dense, sparse or ragged feature, missing values set to `default`."""
    if isinstance(feature, tf.sparse.SparseTensor):
        feature = tf.sparse.to_dense(tf.sparse.reset_shape(feature, [feature.dense_shape[0], 1]), default_value=default)
    elif isinstance(feature, tf.RaggedTensor):
        feature = feature.to_tensor(default_value=default, shape=[None, 1])
    if feature.shape.rank == 2:
        feature = tf.squeeze(feature, axis=1)
    return feature


def preprocessing_fn(inputs):
    """Vocabularies for ids and categories (analysed over train only), age bucketised."""
    outputs = {
        USER_ID: tft.compute_and_apply_vocabulary(_dense(inputs[USER_ID], ""), num_oov_buckets=1, vocab_filename=USER_ID),
        ITEM_ID: tft.compute_and_apply_vocabulary(_dense(inputs[ITEM_ID], ""), num_oov_buckets=1, vocab_filename=ITEM_VOCABULARY),
    }
    for name in CATEGORICAL_USER_FEATURES:
        if name in inputs:
            outputs[name] = tft.compute_and_apply_vocabulary(_dense(inputs[name], ""), num_oov_buckets=1, vocab_filename=name)
    if AGE in inputs:
        outputs[AGE] = tft.bucketize(tf.cast(_dense(inputs[AGE], 0), tf.float32), AGE_BUCKETS)
    return outputs


def _vocabulary_size(tft_output, name: str) -> int:
    return tft_output.vocabulary_size_by_name(name) + 1  # + the OOV bucket


def _user_inputs(tft_output):
    feature_spec = tft_output.transformed_feature_spec()
    return [name for name in USER_RAW_FEATURES if name in feature_spec]


def build_model(tft_output, hp: dict) -> tf.keras.Model:
    """The user tower and the catalogue softmax, built from the transform output's vocabularies."""
    inputs, embedded = {}, []
    for name in _user_inputs(tft_output):
        size = AGE_BUCKETS + 1 if name == AGE else _vocabulary_size(tft_output, name)
        width = hp["embedding_dim"] if name == USER_ID else 8
        inputs[name] = tf.keras.Input(shape=(), dtype=tf.int64, name=name)
        embedded.append(tf.keras.layers.Embedding(size, width, name=f"{name}_embedding")(inputs[name]))
    user = tf.keras.layers.Concatenate()(embedded)
    user = tf.keras.layers.Dropout(hp["dropout"])(user)
    user = tf.keras.layers.Dense(hp["hidden_units"], activation="relu")(user)
    user = tf.keras.layers.Dense(hp["embedding_dim"], name="user_vector")(user)
    logits = tf.keras.layers.Dense(_vocabulary_size(tft_output, ITEM_VOCABULARY), name="item_embeddings")(user)
    model = tf.keras.Model(inputs, logits)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(hp["learning_rate"]),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseTopKCategoricalAccuracy(k=10, name="top10_accuracy")],
    )
    return model


def _dataset(fn_args, files, tft_output, batch_size):
    options = tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=ITEM_ID)
    dataset = fn_args.data_accessor.tf_dataset_factory(files, options, tft_output.transformed_metadata.schema)
    wanted = _user_inputs(tft_output)
    # Each worker keeps every N-th batch: sharding by file (TensorFlow's default) fails when a split
    # has fewer files than there are workers, as small splits do.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.map(lambda features, label: ({k: features[k] for k in wanted}, label)).with_options(options)


def hyperparameters(overrides: dict | None) -> dict:
    """The defaults with the run's overrides, cast to the defaults' types (KFP passes every
    number in a dict parameter as a float)."""
    merged = dict(DEFAULT_HYPERPARAMETERS)
    for name, value in (overrides or {}).items():
        merged[name] = type(DEFAULT_HYPERPARAMETERS[name])(value) if name in DEFAULT_HYPERPARAMETERS else value
    return merged


def run_fn(fn_args):
    """Trains the model on the transformed splits and exports the serving model."""
    hp = hyperparameters(fn_args.hyperparameters)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    strategy = getattr(fn_args, "strategy", None) or tf.distribute.get_strategy()
    global_batch = hp["batch_size"] * strategy.num_replicas_in_sync
    train = _dataset(fn_args, fn_args.train_files, tft_output, global_batch)
    evaluation = _dataset(fn_args, fn_args.eval_files, tft_output, global_batch)
    with strategy.scope():
        model = build_model(tft_output, hp)
    epochs = max(1, min(hp["epochs"], fn_args.train_steps))
    model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=max(1, fn_args.train_steps // epochs),
        validation_data=evaluation,
        validation_steps=max(1, fn_args.eval_steps),
        callbacks=_callbacks(fn_args),
        verbose=2,
    )
    export_serving_model(model, tft_output, fn_args.serving_model_dir, hp["top_k"])


def _callbacks(fn_args) -> list:
    """TensorBoard logs, and backups of the training state after every epoch, so that a worker
    that is killed and restarts resumes where the last backup left off (kubetfx's `backup_dir`;
    TFX's own FnArgs has none), and kubetfx's progress lines."""
    callbacks = [tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir), *getattr(fn_args, "callbacks", [])]
    if getattr(fn_args, "backup_dir", ""):
        callbacks.append(tf.keras.callbacks.BackupAndRestore(fn_args.backup_dir))
    return callbacks


def export_serving_model(model, tft_output, serving_model_dir: str, top_k: int) -> None:
    """Saves the model with the transform graph inside, taking raw user features."""
    model.tft_layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    names = _user_inputs(tft_output)
    signature = {name: tf.TensorSpec([None], raw_spec[name].dtype, name=name) for name in names}
    catalogue = tf.constant(tft_output.vocabulary_by_name(ITEM_VOCABULARY))
    catalogue_size = int(catalogue.shape[0])
    k = min(top_k, catalogue_size)

    def scores(features):
        raw = {name: _as_raw(features[name], raw_spec[name]) for name in names}
        transformed = model.tft_layer(raw)
        return model({name: transformed[name] for name in names}, training=False)[:, :catalogue_size]

    @tf.function(input_signature=[signature])
    def score_catalogue(features):
        return {"scores": scores(features)}

    @tf.function(input_signature=[signature])
    def recommend(features):
        top = tf.math.top_k(scores(features), k=k)
        return {"item_ids": tf.gather(catalogue, top.indices), "scores": top.values}

    @tf.function(input_signature=[])
    def catalogue_ids():
        return {"item_ids": catalogue}

    model.save(serving_model_dir, save_format="tf", signatures={
        "serving_default": recommend,
        "score_catalogue": score_catalogue,
        "catalogue": catalogue_ids,
    })


def _as_raw(tensor, spec):
    """Shapes a [batch] serving input the way the transform graph was traced to receive it."""
    if isinstance(spec, tf.io.FixedLenFeature):
        return tensor
    return tf.sparse.from_dense(tf.expand_dims(tensor, 1))
