"""The reference recommender's module file, written exactly as a user writes theirs for TFX:
`preprocessing_fn(inputs)` for Transform and `run_fn(fn_args)` for Trainer.

A two-tower retrieval model (YouTube-DNN style):

- the user tower pools the embeddings of the items in the user's history (their train items,
  the most recent `max_history` of them, looked up by user id from a table saved in the model;
  or the `recent_items` a request sends, a shopper's session) and adds the user's features, then
  a hidden layer;
- the item tower is the item id's embedding plus the item's features;
- a score is the cosine of the two towers' vectors over a temperature, plus a learnt bias per
  item (how much an item is chosen beyond what the vectors say);
- training is a softmax over the other items of the batch (in-batch negatives) with the logQ
  correction (each logit minus the log of the item's share of train interactions), so a step
  costs batch × batch, never batch × catalogue; the target item is left out of its own history;
- a lazy Adam updates only the embedding rows a batch uses (the whole-table update Keras' Adam
  does on sparse gradients is what made the old model's steps grow with the data).

Features are whatever columns the data has (MovieLens' age, gender, occupation, genres and
release year, or a user's own): Transform gives every string column a vocabulary (a list, 'a|b'
split by ingest, stays a bag of values) and every numeric column quantile buckets; run_fn then
reads the train split to place each column: a column with one value per user feeds the user
tower, one with one value per item the item tower, and it says in `columns.md` (in the run's
folder, beside TensorBoard's logs) how each column is used or why it is not (free text, an id in
disguise, empty, constant, a value of the interaction itself such as a rating).

The exported SavedModel takes raw user features (the transform graph is inside it) and an
optional `recent_items` ([batch, m] item ids, padded with ""), and follows the kubetfx model
contract: `serving_default` (top-K item ids and scores), `score_catalogue` (a score for every
catalogue item) and `catalogue` (the item ids those scores refer to). A row of `recent_items`
with no known item falls back to the user's training history, which the optional `history`
signature returns (user id → item ids, newest last, padded with ""), so that serving can explain
a request that sends no items of its own.
"""
import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

USER_ID = "user_id"
ITEM_ID = "item_id"
AGE = "age"
GENRES = "genres"
RELEASE_YEAR = "release_year"
TIMESTAMP = "timestamp"
RECENT_ITEMS = "recent_items"  # serving input: the items of a session, newest last
HISTORY_SIGNATURE = "history"  # optional serving signature: user id → stored history (explanations)
ITEM_VOCABULARY = "item_id"
COLUMNS_REPORT = "columns.md"  # written by run_fn into fn_args.model_run_dir
# Quantile buckets of a numeric column; MovieLens' age and release year keep the counts they were tuned with.
AGE_BUCKETS = 6
YEAR_BUCKETS = 8
NUMERIC_BUCKETS = 10
BUCKETS = {AGE: AGE_BUCKETS, RELEASE_YEAR: YEAR_BUCKETS}
# A string column whose values average more characters than this is free text (titles,
# descriptions): a vocabulary of whole texts learns nothing, and the module does not tokenise.
MAX_CATEGORY_CHARACTERS = 40
# A category with more distinct values than this share of the users (items) holding one is an id in
# disguise (zip codes, titles): nearly one embedding row per user, which the history already beats.
MAX_DISTINCT_SHARE = 0.5
MIN_DISTINCT_FOR_ID = 20  # below this many values a column is a category whatever the share

USER, ITEM = "user", "item"

DEFAULT_HYPERPARAMETERS = {
    "batch_size": 512,
    "epochs": 5,
    "embedding_dim": 64,
    "hidden_units": 256,
    "feature_dim": 16,
    "max_history": 200,
    "history_dropout": 0.3,
    "temperature": 0.15,
    "cosine": 1,  # L2-normalised tower outputs (0: raw dot products)
    "item_bias": 1,  # a learnt bias per item added to its score (0: none)
    "logq": 1.3,
    "learning_rate": 0.004,
    "lr_decay": 1,  # the learning rate decays to 0 along a cosine over the run's steps (0: constant)
    "top_k": 100,
    "seed": 0,
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


def _without_empty_strings(feature):
    """A string feature as a SparseTensor of its non-empty values: "" counts as missing."""
    if not isinstance(feature, tf.sparse.SparseTensor):
        feature = tf.sparse.from_dense(tf.reshape(feature, [tf.shape(feature)[0], -1]))
    return tf.sparse.retain(feature, tf.strings.length(feature.values) > 0)


def preprocessing_fn(inputs):
    """Vocabularies for the ids and for every string column (analysed over train only; a list
    column stays a list of indices, a missing value stays missing), quantile buckets for every
    numeric column, the timestamp passed through (it orders each user's history)."""
    outputs = {
        USER_ID: tft.compute_and_apply_vocabulary(_dense(inputs[USER_ID], ""), num_oov_buckets=1, vocab_filename=USER_ID),
        ITEM_ID: tft.compute_and_apply_vocabulary(_dense(inputs[ITEM_ID], ""), num_oov_buckets=1, vocab_filename=ITEM_VOCABULARY),
    }
    if TIMESTAMP in inputs:
        outputs[TIMESTAMP] = tf.cast(_dense(inputs[TIMESTAMP], 0), tf.int64)
    for name, feature in sorted(inputs.items()):
        if name in outputs:
            continue
        if feature.dtype == tf.string:
            outputs[name] = tft.compute_and_apply_vocabulary(_without_empty_strings(feature), num_oov_buckets=1,
                                                             vocab_filename=name)
        else:
            outputs[name] = tft.bucketize(tf.cast(feature, tf.float32), BUCKETS.get(name, NUMERIC_BUCKETS))
    return outputs


def _vocabulary_size(tft_output, name: str) -> int:
    return tft_output.vocabulary_size_by_name(name) + 1  # + the OOV bucket


def train_column_names(tft_output) -> list:
    """The transformed columns training reads from the train split: all of them."""
    return sorted(tft_output.transformed_feature_spec())


def model_inputs(columns: dict, tft_output) -> tuple[dict, np.ndarray]:
    """(features, labels) for `model.fit` or `model.evaluate` from columns as `read_columns` gives
    them: every transformed column but the item and the time, one value per example (-1 where
    missing; the model takes the user columns it uses), and the item index."""
    count = len(columns[ITEM_ID])
    features = {name: _first_values(columns[name], count) for name in train_column_names(tft_output)
                if name in columns and name not in (ITEM_ID, TIMESTAMP)}
    return features, columns[ITEM_ID]


def hyperparameters(overrides: dict | None) -> dict:
    """The defaults with the run's overrides, cast to the defaults' types (KFP passes every
    number in a dict parameter as a float)."""
    merged = dict(DEFAULT_HYPERPARAMETERS)
    for name, value in (overrides or {}).items():
        merged[name] = type(DEFAULT_HYPERPARAMETERS[name])(value) if name in DEFAULT_HYPERPARAMETERS else value
    return merged


# --- what the model needs to know about users and items, read once from the train split ------

def read_columns(fn_args, files, tft_output, columns) -> dict:
    """The transformed split's `columns` as numpy: one value per example for a fixed-length column,
    (rows, values) pairs for a column that may hold none or several values per example. The files
    are decoded by TFX's `record_batch_factory` (tfx-bsl's decoder into Arrow): parsing them as
    tf.Examples in a tf.data pipeline took 1.6 to 2.2 times as long."""
    options = tfxio.RecordBatchesOptions(batch_size=65_536, drop_final_batch=False, num_epochs=1, shuffle=False)
    batches = list(fn_args.data_accessor.record_batch_factory(files, options, tft_output.transformed_metadata.schema))
    spec = tft_output.transformed_feature_spec()
    count = sum(batch.num_rows for batch in batches)
    read = {}
    for name in columns:
        if name not in spec:
            continue
        lists = pa.concat_arrays([batch.column(name) for batch in batches]) if batches else pa.array([], pa.list_(pa.int64()))
        rows, values = np.asarray(pc.list_parent_indices(lists), np.int64), np.asarray(pc.list_flatten(lists))
        if isinstance(spec[name], tf.io.FixedLenFeature):
            read[name] = values if len(values) == count else _first_values((rows, values), count)
        else:
            read[name] = (rows, values)
    return read


def _pairs(column) -> tuple[np.ndarray, np.ndarray]:
    """(rows, values) of a column read as pairs, or as one value per example (-1: missing)."""
    if isinstance(column, tuple):
        return column
    rows = np.flatnonzero(column >= 0)
    return rows, column[rows]


def _first_values(column, count: int) -> np.ndarray:
    """One value per example (the first; -1 where there is none)."""
    if not isinstance(column, tuple):
        return column
    rows, values = column
    dense = np.full(count, -1, np.int64)
    present, first = np.unique(rows, return_index=True)
    dense[present] = values[first]
    return dense


@dataclasses.dataclass(frozen=True)
class ColumnUse:
    """How the model uses one column of the data, or why it does not (`reason`)."""

    name: str
    side: str = ""  # USER or ITEM: the tower it feeds
    kind: str = ""  # what it is used as
    rows: int = 0  # embedding rows: its values, the OOV bucket and one row for a missing value
    reason: str = ""

    @property
    def used(self) -> bool:
        return not self.reason

    def describe(self) -> str:
        return f"used as {self.kind} in the {self.side} tower" if self.used else f"not used: {self.reason}"


def plan_columns(train: dict, tft_output) -> list[ColumnUse]:
    """How each column of the train split besides the ids and the time is used, judged on the data."""
    raw = tft_output.raw_feature_spec()
    user, item = train[USER_ID].astype(np.int64), train[ITEM_ID].astype(np.int64)
    entities = {USER: (user, _vocabulary_size(tft_output, USER_ID)), ITEM: (item, _vocabulary_size(tft_output, ITEM_VOCABULARY))}
    return [_plan_column(name, _pairs(train[name]), len(user), entities, tft_output,
                         name in raw and raw[name].dtype == tf.string)
            for name in sorted(train) if name not in (USER_ID, ITEM_ID, TIMESTAMP)]


def _plan_column(name: str, pairs, count: int, entities: dict, tft_output, is_string: bool) -> ColumnUse:
    rows, values = pairs
    if len(values) == 0:
        return ColumnUse(name, reason="empty in every train row")
    side, reason = _side(_fingerprints(pairs, count), entities, count)
    if reason:
        return ColumnUse(name, side, reason=reason)
    is_list = np.bincount(rows).max() > 1
    if is_list and side == USER:
        return ColumnUse(name, side, reason="several values for one user, and a request sends one value per feature")
    if not is_string:
        buckets = BUCKETS.get(name, NUMERIC_BUCKETS)
        return ColumnUse(name, side, f"a number in {buckets} quantile buckets (an embedding each)", buckets + 2)
    return _category(name, side, values, len(np.unique(entities[side][0][rows])), is_list, tft_output)


def _fingerprints(pairs, count: int) -> np.ndarray:
    """One number per example standing for its set of values (0: none), whatever their order."""
    rows, values = pairs
    mixed = (values.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    mixed ^= mixed >> np.uint64(29)
    fingerprint = np.zeros(count, np.uint64)
    np.add.at(fingerprint, rows, mixed)
    return fingerprint


def _side(fingerprint: np.ndarray, entities: dict, count: int) -> tuple[str, str]:
    """(the tower a column feeds: the side on which each entity has one value, a reason if none)."""
    if len(np.unique(fingerprint)) <= 1:
        return "", "the same value in every train row"
    consistent = [side for side, (ids, size) in entities.items() if _one_value_each(fingerprint, ids, size)]
    if not consistent:
        return "", ("varies between one user's interactions and between one item's: a value of the interaction "
                    "itself (such as a rating), unknown when recommending")
    # Both can hold on small data (a user with one interaction is consistent with anything): the side
    # with more interactions per entity is the better tested.
    return max(consistent, key=lambda side: count / entities[side][1]), ""


def _category(name: str, side: str, values: np.ndarray, holders: int, is_list: bool, tft_output) -> ColumnUse:
    """A string column as a category (or a list of them), unless it is free text or an id; `holders`:
    the users (items) that have a value."""
    vocabulary = tft_output.vocabulary_by_name(name)
    length = np.mean([len(token) for token in vocabulary]) if vocabulary else 0.0
    if length > MAX_CATEGORY_CHARACTERS:
        return ColumnUse(name, side, reason=f"free text (values of {length:.0f} characters on average, over "
                                            f"{MAX_CATEGORY_CHARACTERS}); the model does not read text")
    distinct = len(np.unique(values))
    if not is_list and distinct >= MIN_DISTINCT_FOR_ID and distinct > MAX_DISTINCT_SHARE * holders:
        return ColumnUse(name, side, reason=f"an id more than a category: {distinct:,} distinct values over "
                                            f"{holders:,} {side}s (over {MAX_DISTINCT_SHARE:.0%}), too few "
                                            f"{side}s per value to learn from")
    what = "a list of categories, a mean of their embeddings" if is_list else "a category, an embedding each"
    return ColumnUse(name, side, f"{what} ({len(vocabulary):,} values)", _vocabulary_size(tft_output, name) + 1)


def _one_value_each(fingerprint: np.ndarray, ids: np.ndarray, size: int) -> bool:
    """Whether every entity (user or item) has the same fingerprint on all its rows."""
    low = np.full(size, np.iinfo(np.uint64).max, np.uint64)
    high = np.zeros(size, np.uint64)
    np.minimum.at(low, ids, fingerprint)
    np.maximum.at(high, ids, fingerprint)
    seen = np.bincount(ids, minlength=size) > 0
    return bool(np.all(low[seen] == high[seen]))


def columns_report(plan: list[ColumnUse]) -> str:
    """Markdown: each column and how the model uses it, or why not."""
    lines = ["## Columns of the data", "", "| column | tower | use |", "| --- | --- | --- |"]
    lines += [f"| `{use.name}` | {use.side or '-'} | {use.describe()} |" for use in plan]
    return "\n".join(lines) + "\n"


def build_tables(train: dict, tft_output, hp: dict) -> dict:
    """Each user's history (their latest `max_history` train items, -1 padded; the OOV user's row
    is empty), log(q): each item's share of train interactions, how each column is used (`plan`)
    and each used item column's values per item (-1 padded)."""
    users, items = _vocabulary_size(tft_output, USER_ID), _vocabulary_size(tft_output, ITEM_VOCABULARY)
    user, item = train[USER_ID].astype(np.int64), train[ITEM_ID].astype(np.int64)
    when = train[TIMESTAMP] if TIMESTAMP in train else np.zeros(len(user), np.int64)
    order = np.lexsort((np.arange(len(user)), when, user))  # by user, then time: the latest last
    user_sorted, item_sorted = user[order], item[order]
    counts = np.bincount(user_sorted, minlength=users)
    ends = np.cumsum(counts)
    position_from_end = ends[user_sorted] - np.arange(len(user_sorted)) - 1  # 0 for a user's latest item
    length = hp["max_history"]
    keep = position_from_end < length
    history = np.full((users, length), -1, np.int32)
    slot = np.minimum(counts[user_sorted], length) - 1 - position_from_end
    history[user_sorted[keep], slot[keep]] = item_sorted[keep]
    history[users - 1] = -1  # the OOV bucket: unknown users have no history
    item_counts = np.bincount(item, minlength=items).astype(np.float64)
    log_q = np.log(np.maximum(item_counts, 1.0) / max(item_counts.sum(), 1.0)).astype(np.float32)
    plan = plan_columns(train, tft_output)
    item_features = {use.name: (_values_per_item(_pairs(train[use.name]), item, items), use.rows)
                     for use in plan if use.used and use.side == ITEM}
    return {"history": history, "log_q": log_q, "plan": plan, "item_features": item_features}


def _values_per_item(pairs, item: np.ndarray, items: int) -> np.ndarray:
    """[items, width]: each item's values from its first train row, -1 padded."""
    rows, values = pairs
    first = np.full(items, len(item), np.int64)
    np.minimum.at(first, item, np.arange(len(item)))
    is_first = np.zeros(len(item) + 1, bool)
    is_first[first] = True
    keep = is_first[rows]
    rows, values = rows[keep], values[keep]
    order = np.argsort(rows, kind="stable")
    rows, values = rows[order], values[order]
    starts = np.searchsorted(rows, rows)  # the first position of each row's values
    slot = np.arange(len(rows)) - starts
    table = np.full((items, max(1, int(slot.max(initial=0)) + 1)), -1, np.int32)
    table[item[rows], slot] = values
    return table


def user_columns(tables: dict) -> dict:
    """The user columns the user tower takes: name → embedding rows."""
    return {use.name: use.rows for use in tables["plan"] if use.used and use.side == USER}


# --- the model --------------------------------------------------------------------------------

class LazyAdam(tf.keras.optimizers.Adam):
    """Adam whose sparse updates (embedding rows) touch only the rows in the batch, as TF Addons'
    LazyAdam: Keras' Adam decays every row's moments on every step, so a step would cost the
    whole table; dense variables are updated as Adam does."""

    def update_step(self, gradient, variable):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable)
        lr = tf.cast(self.learning_rate, variable.dtype)
        step = tf.cast(self.iterations + 1, variable.dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, variable.dtype), tf.cast(self.beta_2, variable.dtype)
        alpha = lr * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))
        key = self._var_key(variable)
        m, v = self._momentums[self._index_dict[key]], self._velocities[self._index_dict[key]]
        rows = gradient.indices  # deduplicated by the optimizer before update_step
        m_rows = tf.gather(m, rows) * beta_1 + gradient.values * (1 - beta_1)
        v_rows = tf.gather(v, rows) * beta_2 + tf.square(gradient.values) * (1 - beta_2)
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        variable.scatter_sub(tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))


class TwoTower(tf.keras.Model):
    """User tower (history + user features) and item tower (id + item features), trained with an
    in-batch softmax; validation scores the whole catalogue (loss and top-10 accuracy)."""

    def __init__(self, tables: dict, user_features: dict, hp: dict, **kwargs):
        super().__init__(**kwargs)
        self.hp = dict(hp)
        items, dim = tables["log_q"].shape[0], hp["embedding_dim"]
        self.item_count = items
        def init(offset):  # one initializer per table: a shared unseeded one gives both the same values
            return tf.keras.initializers.RandomNormal(stddev=0.05, seed=hp["seed"] * 10 + offset)
        self.history_table = tf.Variable(tables["history"], trainable=False, name="history")
        self.log_q = tf.Variable(tables["log_q"], trainable=False, name="log_q")
        self.item_embedding = tf.keras.layers.Embedding(items, dim, embeddings_initializer=init(1), name="item_embedding")
        self.item_bias = None
        if hp["item_bias"]:
            self.item_bias = tf.keras.layers.Embedding(items, 1, embeddings_initializer="zeros", name="item_bias")
        # The history's own item embeddings, as YouTube-DNN's watch vectors.
        self.history_embedding = tf.keras.layers.Embedding(items, dim, embeddings_initializer=init(2),
                                                           name="history_embedding")
        # Each item column: its values per item (-1 padded) and their embeddings, averaged.
        self.item_feature_names = sorted(tables["item_features"])
        self.item_feature_values = {name: tf.Variable(values, trainable=False, name=f"item_{name}")
                                    for name, (values, _) in tables["item_features"].items()}
        # Glorot, as a dense projection of the column's multi-hot vector would start (how genres entered before).
        self.item_feature_embeddings = {name: tf.keras.layers.Embedding(rows, dim, embeddings_initializer="glorot_uniform",
                                                                        name=f"item_{name}_embedding")
                                        for name, (_, rows) in tables["item_features"].items()}
        self.user_feature_sizes = dict(user_features)
        self.user_feature_names = sorted(user_features)
        self.user_feature_embeddings = {
            name: tf.keras.layers.Embedding(size, hp["feature_dim"], name=f"{name}_embedding")
            for name, size in sorted(user_features.items())}
        self.hidden = tf.keras.layers.Dense(hp["hidden_units"], activation="relu", name="hidden")
        self.user_vector = tf.keras.layers.Dense(dim, name="user_vector")
        self.loss_tracker = tf.keras.metrics.Mean(name="loss")
        self.top10_tracker = tf.keras.metrics.Mean(name="top10_accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.top10_tracker]

    def item_vectors(self, items):
        vectors = self.item_embedding(items)
        for name in self.item_feature_names:
            values = tf.cast(tf.gather(self.item_feature_values[name], items), tf.int64)
            present = tf.cast(values >= 0, tf.float32)
            embedded = self.item_feature_embeddings[name](tf.maximum(values, 0)) * present[..., None]
            vectors += tf.reduce_sum(embedded, axis=-2) / tf.maximum(tf.reduce_sum(present, axis=-1, keepdims=True), 1.0)
        return tf.math.l2_normalize(vectors, axis=-1) if self.hp["cosine"] else vectors

    def item_biases(self, items):
        """Each item's learnt bias ([items]), zeros without one."""
        if self.item_bias is None:
            return tf.zeros(tf.shape(items), tf.float32)
        return tf.squeeze(self.item_bias(items), axis=-1)

    def scores(self, users, item_vectors, item_biases):
        """[users, items] scores: the towers' agreement over the temperature plus the items' biases."""
        return tf.matmul(users, item_vectors, transpose_b=True) / self.hp["temperature"] + item_biases[None, :]

    def user_vectors(self, features, history, training=False, target=None):
        """`history`: [batch, length] item indices, -1 where there is none; `target`, in training
        and validation, is left out of the history."""
        history = tf.cast(history, tf.int64)
        mask = history >= 0
        if target is not None:
            mask &= history != tf.cast(target, tf.int64)[:, None]
        if training and self.hp["history_dropout"] > 0:
            mask &= tf.random.uniform(tf.shape(history)) >= self.hp["history_dropout"]
        # Only the items present are embedded: most users' histories are far shorter than
        # max_history, and the padding's embeddings, gradients and optimizer rows were most of a step.
        present = tf.where(mask)
        rows = tf.cast(present[:, 0], tf.int32)
        batch = tf.shape(history)[0]
        summed = tf.math.unsorted_segment_sum(self.history_embedding(tf.gather_nd(history, present)), rows, batch)
        counts = tf.math.unsorted_segment_sum(tf.ones_like(rows, tf.float32), rows, batch)
        pooled = summed / tf.maximum(counts, 1.0)[:, None]
        parts = [pooled] + [self.user_feature_embeddings[name](self._user_feature(features, name))
                            for name in self.user_feature_names]
        vectors = self.user_vector(self.hidden(tf.concat(parts, axis=1)))
        return tf.math.l2_normalize(vectors, axis=-1) if self.hp["cosine"] else vectors

    def _user_feature(self, features, name):
        """A user column's indices, a missing value (-1) on the embedding's last row."""
        values = tf.cast(features[name], tf.int64)
        return tf.where(values < 0, tf.constant(self.user_feature_sizes[name] - 1, tf.int64), values)

    def stored_history(self, user_ids):
        return tf.gather(self.history_table, tf.cast(user_ids, tf.int64))

    def call(self, features, training=False):
        """User vectors from transformed user features, with their stored history."""
        return self.user_vectors(features, self.stored_history(features[USER_ID]), training=training)

    def train_step(self, data):
        features, items = data
        items = tf.cast(items, tf.int64)
        with tf.GradientTape() as tape:
            users = self.user_vectors(features, self.stored_history(features[USER_ID]), training=True, target=items)
            logits = self.scores(users, self.item_vectors(items), self.item_biases(items))
            logits -= self.hp["logq"] * tf.gather(self.log_q, items)[None, :]
            # Another row's copy of a row's own item is no negative for it.
            duplicate = tf.equal(items[:, None], items[None, :]) & ~tf.eye(tf.shape(items)[0], dtype=tf.bool)
            logits = tf.where(duplicate, tf.constant(-1e9, logits.dtype), logits)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.range(tf.shape(items)[0]), logits)
            loss = tf.reduce_mean(per_example)
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync  # gradients are summed over replicas
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        """Validation over the whole catalogue: its softmax loss and top-10 accuracy."""
        features, items = data
        items = tf.cast(items, tf.int64)
        users = self.user_vectors(features, self.stored_history(features[USER_ID]), target=items)
        catalogue = tf.range(self.item_count, dtype=tf.int64)
        logits = self.scores(users, self.item_vectors(catalogue), self.item_biases(catalogue))
        self.loss_tracker.update_state(tf.nn.sparse_softmax_cross_entropy_with_logits(items, logits))
        self.top10_tracker.update_state(tf.cast(tf.math.in_top_k(items, logits, 10), tf.float32))
        return {"loss": self.loss_tracker.result(), "top10_accuracy": self.top10_tracker.result()}


def build_model(tft_output, hp: dict, tables: dict, total_steps: int = 0) -> TwoTower:
    """The model, built and compiled; with `hp["lr_decay"]` and `total_steps`, its learning rate
    decays along a cosine to 0 at the last step."""
    if tables["log_q"].shape[0] != _vocabulary_size(tft_output, ITEM_VOCABULARY):
        raise ValueError(f"the tables hold {tables['log_q'].shape[0]} items, the transform output's catalogue "
                         f"{_vocabulary_size(tft_output, ITEM_VOCABULARY)}: build them from the same transform output")
    sizes = user_columns(tables)
    model = TwoTower(tables, sizes, hp)
    # Built before fit, so that BackupAndRestore can restore into it.
    model({name: tf.zeros([1], tf.int64) for name in [USER_ID, *sizes]})
    model.item_vectors(tf.zeros([1], tf.int64))
    model.item_biases(tf.zeros([1], tf.int64))
    learning_rate = hp["learning_rate"]
    if hp["lr_decay"] and total_steps > 0:
        learning_rate = tf.keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    model.compile(optimizer=LazyAdam(learning_rate, jit_compile=False))
    return model


def _train_dataset(train: dict, user_features: list, batch_size: int, seed: int):
    """Batches of the train split in a new random order on every pass. The examples stay in a few
    tensors and each batch gathers its rows by index: a shuffle buffer of single examples cost a
    quarter of each step and gigabytes at millions of examples."""
    count = len(train[ITEM_ID])
    if count == 0:
        raise ValueError("the train split holds no examples: nothing to train on")
    columns = {name: tf.constant(_first_values(train[name], count)) for name in [USER_ID, *user_features]}
    labels = tf.constant(train[ITEM_ID])
    size = min(batch_size, count)  # a split smaller than a batch makes one batch of all of it
    batches = count // size

    def one_pass(number):
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64),
                                                         seed=tf.stack([tf.constant(seed, tf.int64), number]))
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order[:batches * size], [batches, size]))

    def gather(rows):
        return {name: tf.gather(column, rows) for name, column in columns.items()}, tf.gather(labels, rows)

    passes = tf.data.Dataset.range(2**62).flat_map(one_pass)
    return _sharded(passes.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2))


def _eval_dataset(fn_args, tft_output, user_features: list, batch_size: int):
    options = tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=ITEM_ID)
    dataset = fn_args.data_accessor.tf_dataset_factory(fn_args.eval_files, options, tft_output.transformed_metadata.schema)
    wanted = [USER_ID, *user_features]
    return _sharded(dataset.map(lambda features, label: ({k: _dense(features[k], -1) for k in wanted}, _dense(label, 0))))


def _sharded(dataset):
    # Each worker keeps every N-th batch: sharding by file (TensorFlow's default) fails when a split
    # has fewer files than there are workers, as small splits do.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def run_fn(fn_args):
    """Trains the model on the transformed splits and exports the serving model; writes how each
    column of the data is used (`COLUMNS_REPORT`) into `fn_args.model_run_dir`.

    An epoch is one pass over the train split; `fn_args.train_steps` caps the steps of all
    epochs together (TFX passes it; tests pass a few)."""
    hp = hyperparameters(fn_args.hyperparameters)
    tf.keras.utils.set_random_seed(hp["seed"])
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    strategy = getattr(fn_args, "strategy", None) or tf.distribute.get_strategy()
    global_batch = hp["batch_size"] * strategy.num_replicas_in_sync
    train = read_columns(fn_args, fn_args.train_files, tft_output, train_column_names(tft_output))
    tables = build_tables(train, tft_output, hp)
    report = columns_report(tables["plan"])
    print(report, flush=True)  # the step's log
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(f"{fn_args.model_run_dir.rstrip('/')}/{COLUMNS_REPORT}", "w") as out:
        out.write(report)
    user_features = sorted(user_columns(tables))
    epochs = max(1, min(hp["epochs"], fn_args.train_steps))
    batches_per_pass = max(1, len(train[ITEM_ID]) // global_batch)
    steps_per_epoch = max(1, min(batches_per_pass, fn_args.train_steps // epochs))
    with strategy.scope():
        model = build_model(tft_output, hp, tables, total_steps=epochs * steps_per_epoch)
    model.fit(
        _train_dataset(train, user_features, global_batch, hp["seed"]),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=_eval_dataset(fn_args, tft_output, user_features, global_batch),
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


class _Serving(tf.Module):
    """What the SavedModel holds: the towers, the transform graph, the catalogue's item vectors
    (computed once here), the item id → index table for `recent_items` and the user id → index
    table for the stored histories."""

    def __init__(self, model: TwoTower, tft_output, top_k: int):
        super().__init__()
        self.model = model
        self.tft_layer = tft_output.transform_features_layer()
        catalogue = tft_output.vocabulary_by_name(ITEM_VOCABULARY)
        self.catalogue = tf.constant(catalogue)
        self.size = len(catalogue)
        self.k = min(top_k, self.size)
        self.item_vectors = tf.Variable(model.item_vectors(tf.range(self.size, dtype=tf.int64)), trainable=False)
        self.item_biases = tf.Variable(model.item_biases(tf.range(self.size, dtype=tf.int64)), trainable=False)
        self.item_index = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(self.catalogue, tf.range(self.size, dtype=tf.int64)), default_value=-1)
        users = tft_output.vocabulary_by_name(USER_ID)
        # An unknown user gets the OOV bucket's row, as the transform graph maps them: an empty history.
        self.user_index = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(users), tf.range(len(users), dtype=tf.int64)),
            default_value=len(users))
        self.raw_spec = tft_output.raw_feature_spec()
        self.names = [USER_ID, *model.user_feature_names]
        self.max_history = model.hp["max_history"]

    def scores(self, features):
        raw = {name: _as_raw(features[name], self.raw_spec[name]) for name in self.names}
        transformed = self.tft_layer(raw)
        user_features = {name: _dense(transformed[name], -1) for name in self.names}
        recent = self.item_index.lookup(features[RECENT_ITEMS])[:, -self.max_history:]
        has_recent = tf.reduce_any(recent >= 0, axis=1, keepdims=True)
        stored = tf.cast(self.model.stored_history(user_features[USER_ID]), tf.int64)
        history = tf.concat([tf.where(has_recent, recent, -1), tf.where(has_recent, tf.constant(-1, tf.int64), stored)], axis=1)
        users = self.model.user_vectors(user_features, history)
        return self.model.scores(users, self.item_vectors, self.item_biases)

    def stored_history(self, user_ids):
        """[batch, max_history] item ids of each user's train history, newest last, padded with ""."""
        if user_ids.dtype != tf.string:
            user_ids = tf.strings.as_string(user_ids)
        history = tf.cast(self.model.stored_history(self.user_index.lookup(user_ids)), tf.int64)
        return tf.where(history >= 0, tf.gather(self.catalogue, tf.maximum(history, 0)), "")


def export_serving_model(model, tft_output, serving_model_dir: str, top_k: int) -> None:
    """Saves the serving signatures, taking raw user features and the optional recent items, and
    the `history` signature, taking user ids."""
    serving = _Serving(model, tft_output, top_k)
    signature = {name: tf.TensorSpec([None], serving.raw_spec[name].dtype, name=name) for name in serving.names}
    signature[RECENT_ITEMS] = tf.TensorSpec([None, None], tf.string, name=RECENT_ITEMS)

    @tf.function(input_signature=[signature])
    def score_catalogue(features):
        return {"scores": serving.scores(features)}

    @tf.function(input_signature=[signature])
    def recommend(features):
        top = tf.math.top_k(serving.scores(features), k=serving.k)
        return {"item_ids": tf.gather(serving.catalogue, top.indices), "scores": top.values}

    @tf.function(input_signature=[])
    def catalogue_ids():
        return {"item_ids": serving.catalogue}

    @tf.function(input_signature=[{USER_ID: signature[USER_ID]}])
    def history(features):
        return {"item_ids": serving.stored_history(features[USER_ID])}

    tf.saved_model.save(serving, serving_model_dir, signatures={
        "serving_default": recommend,
        "score_catalogue": score_catalogue,
        "catalogue": catalogue_ids,
        HISTORY_SIGNATURE: history,
    })


def _as_raw(tensor, spec):
    """Shapes a [batch] serving input the way the transform graph was traced to receive it."""
    if isinstance(spec, tf.io.FixedLenFeature):
        return tensor
    return tf.sparse.from_dense(tf.expand_dims(tensor, 1))
