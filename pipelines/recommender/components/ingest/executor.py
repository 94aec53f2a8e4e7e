"""Ingest: reads interactions and the user and item tables, joins features, splits per user.

Works on local paths and `gs://` URIs; CSV (optionally gzipped) or Parquet, by file extension.
The split is a pure function of the data and the seed (hash-based, independent of row order),
so re-running on the same data gives the same split.
"""
import gzip
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kubetfx.components.common import examples, fs, reports, timing
from kubetfx.components.common.errors import InputDataError
from kubetfx.pipelines.recommender import names
from kubetfx.pipelines.recommender.components.ingest.limits import QualityLimits

SPLIT_RANDOM = "random"
SPLIT_TIME = "time"
SPLIT_METHODS = (SPLIT_RANDOM, SPLIT_TIME)
# pandas' default missing-value strings (read_csv's `na_values`), applied to every column except
# the ids: 'NA', 'null' or 'None' is a legitimate user or item id.
NA_STRINGS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
              "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
# A text column whose values are numbers but for a few words ('forty' among ages) is a numeric
# column with mistakes, which would fail deep in Transform; codes that mix letters and digits
# (zip codes such as 'T8H1N') are text and pass.
MAX_WORD_SHARE_IN_NUMBERS = 0.05
_SHOWN_ROWS = 5


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
            _check_id_types(pq.read_schema(io.BytesIO(raw)), uri, role, id_columns)
            frame = pd.read_parquet(io.BytesIO(raw))
        else:
            frame = _read_csv(raw, uri, role, id_columns)
    except pd.errors.EmptyDataError:
        raise InputDataError(f"{role} file '{uri}' is empty: expected a header row and data rows") from None
    except (ValueError, OSError, pd.errors.ParserError, pa.ArrowException) as error:
        raise InputDataError(f"{role} file '{uri}' could not be parsed as CSV or Parquet: {error}") from None
    _check_table(frame, uri, role, id_columns)
    for column in id_columns:
        frame[column] = frame[column].astype(str)
    _check_lengths(frame, uri, role, id_columns)
    return _restore_integers(frame)


def _read_csv(raw: bytes, uri: str, role: str, id_columns: tuple[str, ...]) -> pd.DataFrame:
    if uri.endswith(".gz"):
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise InputDataError(f"{role} file '{uri}' line {line} (data row {line - 1}): byte "
                             f"{raw[error.start:error.start + 1]!r} is not UTF-8; save the file as UTF-8") from None
    sep = "\t" if uri.endswith((".tsv", ".tsv.gz")) else ","
    header = pd.read_csv(io.StringIO(text), sep=sep, nrows=0).columns
    return pd.read_csv(io.StringIO(text), sep=sep, dtype={c: str for c in id_columns}, keep_default_na=False,
                       na_values={c: list(NA_STRINGS) for c in header if c not in id_columns})


def _check_id_types(schema: pa.Schema, uri: str, role: str, id_columns: tuple[str, ...]) -> None:
    """Ids are one string or integer per row; a list, a float or a struct is not an id."""
    for column in id_columns:
        if column not in schema.names:
            continue  # reported with the other missing columns
        kind = schema.field(column).type
        value_kind = kind.value_type if pa.types.is_dictionary(kind) else kind
        if not (pa.types.is_string(value_kind) or pa.types.is_large_string(value_kind)
                or pa.types.is_integer(value_kind)):
            raise InputDataError(f"{role} file '{uri}': column '{column}' has Parquet type {kind}; ids must be "
                                 "strings or integers, one per row")


def _check_lengths(frame: pd.DataFrame, uri: str, role: str, id_columns: tuple[str, ...]) -> None:
    """Refuses the first id over MAX_ID_LENGTH characters and text value over MAX_TEXT_LENGTH."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object:
            continue
        limit, what = (names.MAX_ID_LENGTH, "ids") if column in id_columns else (names.MAX_TEXT_LENGTH, "text values")
        lengths = values.map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy()
        if (lengths > limit).any():
            row = int(np.argmax(lengths > limit))
            raise InputDataError(f"{role} file '{uri}' row {row + 1}, column '{column}': a value of "
                                 f"{lengths[row]:,} characters; {what} are at most {limit:,}")


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
        values = frame[column]
        empty = values.isna() | values.map(lambda v: isinstance(v, str) and not v.strip())
        if empty.any():
            row = int(np.argmax(empty.to_numpy()))
            raise InputDataError(f"{role} file '{uri}' row {row + 1}: column '{column}' is empty; every row needs one")
        scalar = values.map(lambda v: isinstance(v, (str, int, np.integer)) and not isinstance(v, bool))
        if not scalar.all():
            row = int(np.argmax(~scalar.to_numpy()))
            raise InputDataError(f"{role} file '{uri}' row {row + 1}: column '{column}' holds "
                                 f"{type(values.iloc[row]).__name__} {str(values.iloc[row])[:40]!r}; ids must be "
                                 "strings or integers, one per row")


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


def check_mostly_numeric(frame: pd.DataFrame, uri: str, role: str, skip: tuple[str, ...]) -> None:
    """Fails naming the rows of a numeric column that holds a few words ('forty' among ages)."""
    for column in frame.columns:
        values = frame[column]
        if column in skip or values.dtype != object:
            continue
        present = values.dropna()
        words = present[pd.to_numeric(present, errors="coerce").isna()]
        if words.empty or len(words) > MAX_WORD_SHARE_IN_NUMBERS * len(present):
            continue
        if words.map(lambda v: not isinstance(v, str) or any(ch.isdigit() for ch in v)).any():
            continue  # codes such as zip codes: text
        rows = [int(position) + 1 for position in np.flatnonzero(values.index.isin(words.index))[:_SHOWN_ROWS]]
        shown = ", ".join(f"row {row} ({values.iloc[row - 1]!r})" for row in rows)
        raise InputDataError(f"{role} file '{uri}' column '{column}' holds numbers except in {len(words):,} "
                             f"row(s): {shown}{' ...' if len(words) > len(rows) else ''}; write numbers there, or "
                             "leave them empty for a missing value")


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
    limits: QualityLimits = QualityLimits(),
) -> dict:
    """Reads, joins, splits and writes the examples; returns the figures for the artifact.

    Duplicated rows, interactions of users or items the feature tables lack, and non-finite
    ratings or timestamps are counted in the figures (`quality`) and the report; beyond `limits`
    the run fails, naming each problem.
    """
    watch = timing.Stopwatch()
    with timing.stage(names.TASK_INGEST, f"reading {interactions_uri}"):
        interactions = read_table(interactions_uri, "interactions", (names.USER_ID, names.ITEM_ID))
        check_numeric(interactions, interactions_uri, "interactions", (names.RATING, names.TIMESTAMP))
        check_mostly_numeric(interactions, interactions_uri, "interactions",
                             (names.USER_ID, names.ITEM_ID, *list_columns))
        users = _optional_table(users_uri, "users", names.USER_ID, tuple(list_columns))
        items = _optional_table(items_uri, "items", names.ITEM_ID, tuple(list_columns))
    quality = data_quality(interactions, users, items, limits)
    _check_quality(quality, interactions_uri)
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
        "interactions_without_user_features": quality["unknown_users"]["rows"],
        "interactions_without_item_features": quality["unknown_items"]["rows"],
        "quality": quality,
        "columns": list(joined.columns),
        "split_names": list(names.SPLITS),
        "split_method": split_method,
    }
    figures[names.META_WALL_SECONDS] = watch.seconds
    fs.write_text(report_path, _report(figures, interactions_uri, users_uri, items_uri))
    return figures


def _optional_table(uri: str, role: str, key: str, list_columns: tuple[str, ...]) -> pd.DataFrame | None:
    if not uri:
        return None
    table = read_table(uri, role, (key,))
    check_unique(table, uri, role, key)
    check_mostly_numeric(table, uri, role, (key, *list_columns))
    return table


def data_quality(interactions: pd.DataFrame, users: pd.DataFrame | None, items: pd.DataFrame | None,
                 limits: QualityLimits) -> dict:
    """Per problem: the interaction rows that have it (count, share, the first rows), its limit,
    and whether the limit is exceeded."""
    numeric = [c for c in (names.RATING, names.TIMESTAMP)
               if c in interactions.columns and pd.api.types.is_float_dtype(interactions[c])]
    non_finite = np.zeros(len(interactions), dtype=bool)
    for column in numeric:
        non_finite |= np.isinf(interactions[column].to_numpy(dtype=np.float64, na_value=np.nan))
    masks = {
        "duplicate_rows": (interactions.duplicated().to_numpy(), "max_duplicate_share",
                           "rows repeat an earlier row in every column"),
        "unknown_users": (_unmatched_mask(interactions, users, names.USER_ID), "max_unknown_user_share",
                          "interactions are of users missing from the users table"),
        "unknown_items": (_unmatched_mask(interactions, items, names.ITEM_ID), "max_unknown_item_share",
                          "interactions are of items missing from the items table"),
        "non_finite_values": (non_finite, "max_non_finite_share",
                              f"rows hold inf or -inf in {' or '.join(numeric) or 'rating or timestamp'}"),
    }
    quality = {}
    for name, (mask, parameter, what) in masks.items():
        count, limit = int(mask.sum()), getattr(limits, parameter)
        share = count / len(interactions)
        quality[name] = {"rows": count, "share": round(share, 6), "limit": limit, "exceeded": share > limit,
                         "parameter": parameter,
                         "first_rows": [int(r) + 1 for r in np.flatnonzero(mask)[:_SHOWN_ROWS]], "what": what}
    return quality


def _check_quality(quality: dict, uri: str) -> None:
    exceeded = [f"{check['rows']:,} {check['what']} ({check['share']:.1%}, limit {check['limit']:.1%}, "
                f"parameter {check['parameter']}; first rows {', '.join(map(str, check['first_rows']))})"
                for check in quality.values() if check["exceeded"]]
    if exceeded:
        raise InputDataError(f"interactions file '{uri}': " + "; ".join(exceeded) +
                             ". Fix the data, or raise the limit (the pipeline parameter named)")


def _unmatched_mask(interactions: pd.DataFrame, table: pd.DataFrame | None, key: str) -> np.ndarray:
    if table is None:
        return np.zeros(len(interactions), dtype=bool)
    return ~interactions[key].isin(table[key]).to_numpy()


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
        "## Data quality",
        reports.markdown_table(["problem", "rows", "share", "limit", "first rows"], [
            [check["what"], check["rows"], f"{check['share']:.2%}", f"{check['limit']:.0%} (`{check['parameter']}`)",
             ", ".join(map(str, check["first_rows"])) or "-"] for check in figures["quality"].values()]),
        f"Sources: interactions `{interactions_uri}`, users `{users_uri or '-'}`, items `{items_uri or '-'}`.",
        "Columns: " + ", ".join(f"`{c}`" for c in figures["columns"]),
    ]) + "\n"
