"""The ranking pipeline's data: one table, a row per (user, item, moment) with the user's, the item's
and the context's features and a 0/1 label, written for example_gen as gzipped tf.Examples.

Why tf.Examples and not CSV or Parquet: an item's genres are a list, which a CSV cell cannot hold as
one, and TFX's Parquet reader (example_gen's) turns every 0 into a missing value (its dict_to_example
drops falsy values), so the label 0 and a first rating's prior count of 0 would vanish. As a list,
the evaluator slices by genre with each item in every one of its genres.

From MovieLens-100K's three tables (interactions, users, items, as the recommender's data code caches
them), or synthetic with a known signal (tests; trying the pipeline without MovieLens).

The label: MovieLens has explicit ratings, so a positive is an item the user rated 4 or 5 (liked
once seen) and a negative one rated 1 to 3; 55 % of MovieLens-100K's ratings are positives. Items the
user never rated could be sampled as further negatives, but then the label mixes "would not like it"
with "was never shown it", which a second-stage ranker does not need to learn: the first stage
(retrieval) already chose what is shown. The table is what a click or purchase log would give once
its events are labelled the same way.
"""
import pathlib

import numpy as np
import pandas as pd

from kubetfx.components.common.errors import InputDataError

TABLE_FILE = "ranking.tfrecord.gz"
LABEL = "label"
POSITIVE_RATING = 4  # rated 4 or 5: positive; 1 to 3: negative
# MovieLens-100K's columns, as the recommender's data code writes them.
INTERACTION_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
USER_COLUMNS = ("user_id", "age", "gender", "occupation")
ITEM_COLUMNS = ("item_id", "release_year", "genres")
# MovieLens-1M's age groups, which the evaluator slices by.
AGE_BUCKETS = ((0, "under 18"), (18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55+"))
COLUMNS = ("user_id", "item_id", "age", "age_bucket", "gender", "occupation", "release_year", "genres", "timestamp",
           "user_prior_ratings", "item_prior_ratings", LABEL)
GENRES = ("Action", "Comedy", "Drama", "Romance", "Thriller", "Sci-Fi", "Children's", "Documentary")
OCCUPATIONS = ("student", "engineer", "artist", "doctor", "retired", "other")


def movielens_table(interactions_csv: str, users_csv: str, items_csv: str, out_dir: str) -> pathlib.Path:
    """Joins MovieLens' interactions with its users and items into `out_dir`/TABLE_FILE."""
    interactions = _read(interactions_csv, INTERACTION_COLUMNS)
    users = _read(users_csv, USER_COLUMNS)
    items = _read(items_csv, ITEM_COLUMNS)
    ratings = pd.to_numeric(interactions["rating"], errors="coerce")
    if ratings.isna().any():
        row = int(ratings.isna().to_numpy().argmax())
        raise InputDataError(f"{interactions_csv}: row {row + 2}: rating '{interactions['rating'].iloc[row]}' "
                             "is not a number (expected 1 to 5)")
    interactions = interactions.assign(**{LABEL: (ratings >= POSITIVE_RATING).astype(np.int64)})
    items = items.assign(genres=items["genres"].fillna("").map(lambda text: [g for g in text.split("|") if g]))
    return write_table(interactions, users, items, out_dir)


def write_table(interactions: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame, out_dir: str) -> pathlib.Path:
    """The table from interactions (user_id, item_id, timestamp, label), users (user_id, age,
    gender, occupation) and items (item_id, release_year, genres as lists), as tf.Examples."""
    table = interactions[["user_id", "item_id", "timestamp", LABEL]].astype({"user_id": str, "item_id": str})
    table["timestamp"] = pd.to_numeric(table["timestamp"]).astype(np.int64)
    table = table.merge(users[list(USER_COLUMNS)].astype({"user_id": str}), on="user_id", how="inner")
    table = table.merge(items[list(ITEM_COLUMNS)].astype({"item_id": str}), on="item_id", how="inner")
    if table.empty:
        raise InputDataError("no interaction's user_id and item_id are both in the users and items tables")
    table["age"] = pd.to_numeric(table["age"]).astype(np.int64)
    table["age_bucket"] = table["age"].map(age_bucket)
    years = pd.to_numeric(table["release_year"], errors="coerce")
    # An item without a year (one in MovieLens-100K) gets the median: a null would make the column optional.
    table["release_year"] = years.fillna(years.median()).astype(np.int64)
    table["genres"] = table["genres"].map(lambda genres: list(genres) or ["unknown"])
    table = _with_prior_counts(table)
    target = pathlib.Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    _write_examples(table[list(COLUMNS)], target / TABLE_FILE)
    return target / TABLE_FILE


def _write_examples(table: pd.DataFrame, path: pathlib.Path) -> None:
    import tensorflow as tf

    def feature(value):
        values = value if isinstance(value, list) else [value]
        if isinstance(values[0], str):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in values]))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))

    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for row in table.to_dict("records"):
            example = tf.train.Example(features=tf.train.Features(feature={k: feature(v) for k, v in row.items()}))
            writer.write(example.SerializeToString())


def age_bucket(age: int) -> str:
    return [name for lower, name in AGE_BUCKETS if age >= lower][-1]


def _with_prior_counts(table: pd.DataFrame) -> pd.DataFrame:
    """The user's and the item's activity before each interaction (how many ratings came earlier):
    context a live system knows at request time, with no look at the future."""
    table = table.sort_values(["timestamp", "user_id", "item_id"], kind="stable").reset_index(drop=True)
    table["user_prior_ratings"] = table.groupby("user_id").cumcount().astype(np.int64)
    table["item_prior_ratings"] = table.groupby("item_id").cumcount().astype(np.int64)
    return table


def _read(path: str, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputDataError(f"{path}: cannot be read as CSV: {error}") from None
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputDataError(f"{path}: no column {', '.join(missing)} (expected {', '.join(columns)}; "
                             f"found {', '.join(frame.columns)})")
    return frame


def synthetic(out_dir: str, seed: int = 0) -> pathlib.Path:
    """A synthetic ranking table (synthetic_frames) in `out_dir`/TABLE_FILE."""
    interactions, users, items = synthetic_frames(seed=seed)
    return write_table(interactions, users, items, out_dir)


def synthetic_frames(users: int = 150, items: int = 80, rows: int = 6000, seed: int = 0):
    """Interactions, users and items with MovieLens' columns and a label drawn from a known logistic model.

    Each occupation favours one genre; older users favour older items; items have a quality of
    their own; evenings add a little. The interactions' `true_logit` is that model's logit, from
    which a test can tell the best AUC any model can reach on these rows.
    """
    rng = np.random.default_rng(seed)
    user_age = rng.integers(15, 70, users)
    user_occupation = rng.integers(0, len(OCCUPATIONS), users)
    item_genres = [sorted(rng.choice(len(GENRES), rng.integers(1, 4), replace=False).tolist()) for _ in range(items)]
    item_year = rng.integers(1940, 2000, items)
    item_quality = rng.normal(0.0, 0.8, items)
    user, item = rng.integers(0, users, rows), rng.integers(0, items, rows)
    timestamp = 880_000_000 + rng.integers(0, 200 * 86_400, rows)
    taste = np.array([2.0 if user_occupation[u] in item_genres[i] else -0.5 for u, i in zip(user, item)])
    era = -0.04 * (user_age[user] - 40) * (item_year[item] - 1970) / 10
    evening = np.where((timestamp // 3600) % 24 >= 18, 0.5, 0.0)
    logit = taste + era + item_quality[item] + evening - 0.3
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    interactions = pd.DataFrame({"user_id": user + 1, "item_id": item + 1, "timestamp": timestamp, LABEL: label,
                                 "true_logit": logit})
    users_table = pd.DataFrame({"user_id": np.arange(1, users + 1), "age": user_age,
                                "gender": rng.choice(["M", "F"], users),
                                "occupation": [OCCUPATIONS[o] for o in user_occupation]})
    items_table = pd.DataFrame({"item_id": np.arange(1, items + 1), "release_year": item_year,
                                "genres": [[GENRES[g] for g in genres] for genres in item_genres]})
    return interactions, users_table, items_table
