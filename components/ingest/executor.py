"""Ingest: reads interactions and the user and item tables, joins features, splits per user.

Works on local paths and `gs://` URIs; CSV (optionally gzipped) or Parquet, by file extension.
The split is a pure function of the data and the seed (hash-based, independent of row order),
so re-running on the same data gives the same split.
"""
import io

import numpy as np
import pandas as pd
import pyarrow as pa

from kubetfx.components.common import examples, fs, names, reports, timing
from kubetfx.components.common.errors import InputDataError

SPLIT_RANDOM = "random"
SPLIT_TIME = "time"
SPLIT_METHODS = (SPLIT_RANDOM, SPLIT_TIME)


def read_table(uri: str, role: str, id_columns: tuple[str, ...]) -> pd.DataFrame:
    """Reads one table; `role` names it in errors, `id_columns` are read as strings."""
    if not fs.exists(uri):
        raise InputDataError(
            f"{role} file '{uri}' does not exist or cannot be read: "
            "expected a CSV or Parquet file at a local path or a gs:// URI"
        )
    try:
        with fs.gfile().GFile(uri, "rb") as f:
            raw = f.read()
        if uri.endswith(".parquet"):
            frame = pd.read_parquet(io.BytesIO(raw))
        else:
            sep = "\t" if uri.endswith((".tsv", ".tsv.gz")) else ","
            compression = "gzip" if uri.endswith(".gz") else None
            frame = pd.read_csv(io.BytesIO(raw), sep=sep, compression=compression,
                                dtype={c: str for c in id_columns}, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise InputDataError(f"{role} file '{uri}' is empty: expected a header row and data rows") from None
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise InputDataError(f"{role} file '{uri}' could not be parsed as CSV or Parquet: {error}") from None
    _check_table(frame, uri, role, id_columns)
    for column in id_columns:
        frame[column] = frame[column].astype(str)
    return _restore_integers(frame)


def _restore_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Undoes pandas' turning integer columns with missing values into floats, so that a
    column's type does not depend on whether a split happens to hold a missing value."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values) and values.isna().any():
            present = values.dropna()
            if (present == present.round()).all():
                frame[column] = values.astype("Int64")
    return frame


def _check_table(frame: pd.DataFrame, uri: str, role: str, id_columns: tuple[str, ...]) -> None:
    missing = [c for c in id_columns if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"{role} file '{uri}' has no column {', '.join(repr(c) for c in missing)}; "
            f"found columns {list(frame.columns)}"
        )
    if frame.empty:
        raise InputDataError(f"{role} file '{uri}' has a header but no rows")
    for column in id_columns:
        empty = frame[column].isna()
        if empty.any():
            row = int(np.argmax(empty.to_numpy()))
            raise InputDataError(f"{role} file '{uri}' row {row + 1}: column '{column}' is empty; every row needs one")


def check_numeric(frame: pd.DataFrame, uri: str, role: str, columns: tuple[str, ...]) -> None:
    """Fails naming the first row whose value in a numeric column is not a number."""
    for column in columns:
        if column not in frame.columns or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        converted = pd.to_numeric(frame[column], errors="coerce")
        bad = converted.isna() & frame[column].notna()
        row = int(np.argmax(bad.to_numpy()))
        raise InputDataError(
            f"{role} file '{uri}' row {row + 1}, column '{column}': expected a number, got {frame[column].iloc[row]!r}"
        )


def check_unique(frame: pd.DataFrame, uri: str, role: str, key: str) -> None:
    duplicated = frame[key].duplicated()
    if duplicated.any():
        row = int(np.argmax(duplicated.to_numpy()))
        raise InputDataError(f"{role} file '{uri}' row {row + 1}: {key} {frame[key].iloc[row]!r} appears twice; ids must be unique")


def join_features(interactions: pd.DataFrame, users: pd.DataFrame | None, items: pd.DataFrame | None) -> pd.DataFrame:
    joined = interactions
    if users is not None:
        joined = joined.merge(users, on=names.USER_ID, how="left", suffixes=("", "_user"))
    if items is not None:
        joined = joined.merge(items, on=names.ITEM_ID, how="left", suffixes=("", "_item"))
    return joined


def split_list_columns(frame: pd.DataFrame, columns: tuple[str, ...], separator: str) -> pd.DataFrame:
    """Turns 'a|b|c' strings into lists, so multi-valued features (genres) stay multi-valued."""
    for column in columns:
        if column in frame.columns:
            frame[column] = frame[column].map(
                lambda v: [t for t in str(v).split(separator) if t] if isinstance(v, str) else None
            )
    return frame


def assign_eval(frame: pd.DataFrame, method: str, eval_fraction: float, seed: int) -> np.ndarray:
    """Marks each user's share of interactions for eval; every user keeps at least one in train."""
    if method not in SPLIT_METHODS:
        raise InputDataError(f"split method {method!r} is not known: expected one of {SPLIT_METHODS}")
    if not 0.0 < eval_fraction < 1.0:
        raise InputDataError(f"eval fraction {eval_fraction} must be between 0 and 1")
    key_columns = [c for c in (names.USER_ID, names.ITEM_ID, names.TIMESTAMP) if c in frame.columns]
    hash_key = f"{seed:016d}"[-16:]
    tie_break = pd.util.hash_pandas_object(frame[key_columns], index=False, hash_key=hash_key).to_numpy()
    order = pd.DataFrame({"user": frame[names.USER_ID].to_numpy(), "tie": tie_break})
    if method == SPLIT_TIME:
        if names.TIMESTAMP not in frame.columns:
            raise InputDataError(f"split method 'time' needs a '{names.TIMESTAMP}' column in the interactions")
        order["time"] = frame[names.TIMESTAMP].to_numpy()
        sort_by = ["user", "time", "tie"]
    else:
        sort_by = ["user", "tie"]
    order = order.sort_values(sort_by, kind="stable")
    position_from_end = order.groupby("user", sort=False).cumcount(ascending=False).to_numpy()
    counts = order.groupby("user", sort=False)["user"].transform("size").to_numpy()
    n_eval = np.minimum(np.floor(counts * eval_fraction + 0.5), counts - 1)
    is_eval = np.zeros(len(frame), dtype=bool)
    is_eval[order.index.to_numpy()] = position_from_end < n_eval
    return is_eval


def run(
    interactions_uri: str,
    users_uri: str,
    items_uri: str,
    output_uri: str,
    report_path: str,
    split_method: str = SPLIT_RANDOM,
    eval_fraction: float = 0.25,
    seed: int = 42,
    list_columns: tuple[str, ...] = ("genres",),
    list_separator: str = "|",
) -> dict:
    """Reads, joins, splits and writes the examples; returns the figures for the artifact."""
    watch = timing.Stopwatch()
    with timing.stage(names.TASK_INGEST, f"reading {interactions_uri}"):
        interactions = read_table(interactions_uri, "interactions", (names.USER_ID, names.ITEM_ID))
        check_numeric(interactions, interactions_uri, "interactions", (names.RATING, names.TIMESTAMP))
        users = _optional_table(users_uri, "users", names.USER_ID)
        items = _optional_table(items_uri, "items", names.ITEM_ID)
    joined = split_list_columns(join_features(interactions, users, items), tuple(list_columns), list_separator)
    is_eval = assign_eval(joined, split_method, eval_fraction, seed)
    rows = {}
    with timing.stage(names.TASK_INGEST, "writing TFRecord splits"):
        for split, mask in ((names.TRAIN, ~is_eval), (names.EVAL, is_eval)):
            table = pa.Table.from_pandas(joined[mask].reset_index(drop=True), preserve_index=False)
            rows[split] = examples.write_split(table, output_uri, split)
    figures = {
        names.META_ROWS: rows,
        "users": int(joined[names.USER_ID].nunique()),
        "items": int(joined[names.ITEM_ID].nunique()),
        "interactions_without_user_features": _unmatched(interactions, users, names.USER_ID),
        "interactions_without_item_features": _unmatched(interactions, items, names.ITEM_ID),
        "columns": list(joined.columns),
        "split_names": list(names.SPLITS),
        "split_method": split_method,
    }
    figures[names.META_WALL_SECONDS] = watch.seconds
    fs.write_text(report_path, _report(figures, interactions_uri, users_uri, items_uri))
    return figures


def _optional_table(uri: str, role: str, key: str) -> pd.DataFrame | None:
    if not uri:
        return None
    table = read_table(uri, role, (key,))
    check_unique(table, uri, role, key)
    return table


def _unmatched(interactions: pd.DataFrame, table: pd.DataFrame | None, key: str) -> int:
    if table is None:
        return 0
    return int((~interactions[key].isin(table[key])).sum())


def _report(figures: dict, interactions_uri: str, users_uri: str, items_uri: str) -> str:
    rows = figures[names.META_ROWS]
    return "\n\n".join([
        "# Ingest",
        reports.markdown_table(["split", "rows"], [[split, count] for split, count in rows.items()]),
        reports.markdown_table(["figure", "value"], [
            ["users", figures["users"]],
            ["items", figures["items"]],
            ["interactions without user features", figures["interactions_without_user_features"]],
            ["interactions without item features", figures["interactions_without_item_features"]],
            ["split method", figures["split_method"]],
        ]),
        f"Sources: interactions `{interactions_uri}`, users `{users_uri or '-'}`, items `{items_uri or '-'}`.",
        "Columns: " + ", ".join(f"`{c}`" for c in figures["columns"]),
    ]) + "\n"
