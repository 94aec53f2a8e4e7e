"""The eval data the evaluator needs, read once from the ingest examples: who met what in train
and eval, each user's features, each item's groups."""
import dataclasses

import numpy as np
import pandas as pd
import pyarrow as pa

from kubetfx.components.common import examples
from kubetfx.components.common.errors import InputDataError
from kubetfx.pipelines.recommender.components.evaluate.ranking import Interactions
from kubetfx.pipelines.recommender import names

AGE_BUCKETS = ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"))
ACTIVITY_BUCKETS = ((5, "cold"), (20, "light"), (100, "medium"))
USER_SLICES = ("gender", "age_bucket", "occupation", "user_activity")
ITEM_SLICES = ("genres", "item_popularity_decile")
MISSING = "(missing)"  # the group of users without a value for a slice feature


@dataclasses.dataclass
class EvalData:
    interactions: Interactions
    user_features: pd.DataFrame   # one row per eval user (same order), raw features and user slices
    item_groups: pd.DataFrame     # item_id → item slices (genres as lists, popularity decile)


def load(examples_uri: str) -> EvalData:
    train = examples.read_split(examples_uri, names.TRAIN)
    evaluation = examples.read_split(examples_uri, names.EVAL)
    if evaluation.num_rows == 0:
        raise InputDataError(f"the eval split of '{examples_uri}' is empty: there is nothing to evaluate on")
    train_pairs = _pairs(train, examples_uri, names.TRAIN)
    all_eval_pairs = _pairs(evaluation, examples_uri, names.EVAL)
    eval_pairs = all_eval_pairs.drop_duplicates()  # a repeated choice is one relevant item
    users = np.array(sorted(eval_pairs[names.USER_ID].unique()), dtype=object)
    index = pd.Series(np.arange(len(users)), index=users)
    train_of_eval_users = train_pairs[train_pairs[names.USER_ID].isin(index.index)]
    item_counts = train_pairs[names.ITEM_ID].value_counts()
    interactions = Interactions(
        users=users,
        train_users=index[train_of_eval_users[names.USER_ID]].to_numpy(),
        train_items=train_of_eval_users[names.ITEM_ID].to_numpy(),
        eval_users=index[eval_pairs[names.USER_ID]].to_numpy(),
        eval_items=eval_pairs[names.ITEM_ID].to_numpy(),
        item_train_counts=item_counts.to_dict(),
        train_user_count=int(train_pairs[names.USER_ID].nunique()),
    )
    user_counts = train_pairs[names.USER_ID].value_counts()
    # Both splits' rows, train first, and their ids in the same order: features are read from
    # each user's and each item's first row only, not converted for every row.
    both = pa.concat_tables([train, evaluation], promote_options="default")
    both_pairs = pd.concat([train_pairs, all_eval_pairs], ignore_index=True)
    return EvalData(
        interactions=interactions,
        user_features=_user_features(both, both_pairs[names.USER_ID].to_numpy(), users, user_counts),
        item_groups=_item_groups(both, both_pairs[names.ITEM_ID].to_numpy(), item_counts),
    )


def _first_rows(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ids, sorted, and the row where each first appears."""
    codes, uniques = pd.factorize(ids, sort=True)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # the last write to each id is its first row
    return np.asarray(uniques, dtype=object), first


def _column(table: pa.Table, column: str) -> np.ndarray:
    """A column's first values as numpy, bytes decoded to str in Arrow (not in a Python loop)."""
    values = examples.first_values(table, column)
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        values = values.cast(pa.large_string())
    return values.to_numpy(zero_copy_only=False)


def _decode(values: list) -> list:
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def _pairs(table: pa.Table, examples_uri: str = "", split: str = "") -> pd.DataFrame:
    keys = (names.USER_ID, names.ITEM_ID)
    if table.num_rows == 0:
        return pd.DataFrame({column: np.array([], dtype=object) for column in keys})
    missing = [column for column in keys if column not in table.column_names]
    if missing:
        raise InputDataError(f"the {split} split of '{examples_uri}' has no {' or '.join(missing)} feature; "
                             f"found {sorted(table.column_names)}")
    return pd.DataFrame({column: _column(table, column) for column in keys})


def _user_features(table: pa.Table, row_users: np.ndarray, users: np.ndarray, train_counts: pd.Series) -> pd.DataFrame:
    """Each user's first value of every single-valued column (user features do not vary by row)."""
    distinct, first = _first_rows(row_users)
    rows = table.take(pa.array(first[pd.Index(distinct).get_indexer(users)]))
    columns = {column: _column(rows, column) for column in rows.column_names if column not in (names.ITEM_ID, "genres")}
    frame = pd.DataFrame(columns)
    frame[names.USER_ID] = users
    frame = frame.set_index(names.USER_ID)
    if "age" in frame.columns:
        frame["age_bucket"] = frame["age"].map(_age_bucket)
    counts = train_counts.reindex(users).fillna(0).astype(int)
    frame["user_activity"] = counts.map(_activity_bucket).to_numpy()
    frame["train_interactions"] = counts.to_numpy()
    return frame.reset_index(names=names.USER_ID)


def _age_bucket(age) -> str | None:
    if age is None or pd.isna(age):
        return MISSING
    return next((label for limit, label in AGE_BUCKETS if age < limit), "55+")


def _activity_bucket(count: int) -> str:
    return next((label for limit, label in ACTIVITY_BUCKETS if count < limit), "heavy")


def _item_groups(table: pa.Table, row_items: np.ndarray, item_counts: pd.Series) -> pd.DataFrame:
    items, first = _first_rows(row_items)
    frame = pd.DataFrame({names.ITEM_ID: items})
    if "genres" in table.column_names:
        genres = table.column("genres").take(pa.array(first)).to_pylist()
        frame["genres"] = [_decode(v) if v else [] for v in genres]
    counts = item_counts.reindex(frame[names.ITEM_ID]).fillna(0).to_numpy()
    # Share of items with at most this count: equal counts share a decile; d10 holds the most popular.
    ranks = pd.Series(counts).rank(method="max", pct=True).to_numpy()
    frame["item_popularity_decile"] = [f"d{max(int(np.ceil(r * 10)), 1):02d}" for r in ranks]
    return frame.set_index(names.ITEM_ID)
