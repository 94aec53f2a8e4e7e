"""What the monitor compares: a batch (new interaction data, or serving's request log) and what
training saw (the ingest examples' train split).

Interaction data is read, joined and typed exactly as ingest does it, so a column has the same
type in the batch as in training. The request log (`kubetfx serve`) holds one record per
answered instance: the hashed user, the features the model received, the items excluded.
"""
import dataclasses
import json

import numpy as np
import pyarrow as pa

from kubetfx.components.common import examples, fs, timing
from kubetfx.components.common.errors import MonitorError
from kubetfx.pipelines.recommender.components.ingest import executor as ingest
from kubetfx.pipelines.recommender import names

INTERACTIONS = "interactions"
REQUEST_LOG = "request_log"


@dataclasses.dataclass(frozen=True)
class BatchSource:
    """Where the batch is: interaction data (like ingest's inputs) or a request log folder."""

    interactions_uri: str = ""
    users_uri: str = ""
    items_uri: str = ""
    request_log_uri: str = ""  # a log root or one of its day folders

    def __post_init__(self):
        if bool(self.interactions_uri) == bool(self.request_log_uri):
            raise MonitorError("the monitor needs one batch: new interaction data or a request log folder, "
                               f"not {'both' if self.interactions_uri else 'neither'}")

    @property
    def kind(self) -> str:
        return INTERACTIONS if self.interactions_uri else REQUEST_LOG


@dataclasses.dataclass(frozen=True)
class Batch:
    kind: str
    table: pa.Table  # list columns, as ingest writes examples
    users: np.ndarray  # one per row: raw ids (interactions) or the log's hashed ids (request log)
    items: np.ndarray  # item ids the batch's users met: interactions' items, requests' exclusions

    @property
    def rows(self) -> int:
        return self.table.num_rows


@dataclasses.dataclass(frozen=True)
class Training:
    """What training saw: its users and items, and each user's feature values."""

    users: set[str]
    items: set[str]
    user_features: dict[str, dict]  # user id → feature → its (first) value in training


def read_batch(source: BatchSource) -> Batch:
    if source.kind == INTERACTIONS:
        return _interactions(source)
    return _request_log(source.request_log_uri)


def _interactions(source: BatchSource) -> Batch:
    frame = ingest.read_table(source.interactions_uri, "interactions", (names.USER_ID, names.ITEM_ID))
    users = _features_table(source.users_uri, "users", names.USER_ID)
    items = _features_table(source.items_uri, "items", names.ITEM_ID)
    joined = ingest.split_list_columns(ingest.join_features(frame, users, items), ("genres",), "|")
    table = _list_table(pa.Table.from_pandas(joined, preserve_index=False))
    return Batch(INTERACTIONS, table, joined[names.USER_ID].to_numpy(str), joined[names.ITEM_ID].to_numpy(str))


def _features_table(uri: str, role: str, key: str):
    if not uri:
        return None
    table = ingest.read_table(uri, role, (key,))
    ingest.check_unique(table, uri, role, key)
    return table


def _request_log(log_uri: str) -> Batch:
    files = fs.glob(fs.join(log_uri, f"*{names.REQUEST_LOG_SUFFIX}")) + \
        fs.glob(fs.join(log_uri, "*", f"*{names.REQUEST_LOG_SUFFIX}"))
    records = [record for path in files for record in _records(path)]
    if not records:
        raise MonitorError(f"no request log records under '{log_uri}' (expected {names.REQUEST_LOG_PREFIX}*"
                           f"{names.REQUEST_LOG_SUFFIX} files there or in its day folders, as `kubetfx serve` writes)")
    features = pa.Table.from_pylist([record["features"] for record in records])
    # object arrays: a fixed-width str array is as wide as its longest value, in every row
    users = np.array([record.get("user", "") for record in records], dtype=object)
    excluded = np.array([item for record in records for item in record.get("exclude", [])], dtype=object)
    return Batch(REQUEST_LOG, _list_table(features), users, excluded)


def _records(path: str) -> list[dict]:
    """The file's well-formed records; a line that is not one (cut short, not JSON, a value over
    the serving bounds) is skipped and counted in a warning, so one bad record never stops the
    comparison nor makes it ask for memory in proportion to its size."""
    records, skipped = [], []
    for number, line in enumerate(fs.read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line) if len(line) <= _MAX_RECORD_CHARS else None
        except json.JSONDecodeError:
            record = None
        if _well_formed(record):
            records.append(record)
        else:
            skipped.append(number)
    if skipped:
        timing.LOG.warning("[%s] skipped %d malformed record(s) of '%s' (lines %s%s)", names.TASK_MONITOR,
                           len(skipped), path, ", ".join(map(str, skipped[:5])), " ..." if len(skipped) > 5 else "")
    return records


# A record holds a handful of bounded features, k items and their scores: far below this.
_MAX_RECORD_CHARS = 64 * names.MAX_TEXT_LENGTH


def _well_formed(record) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("features"), dict):
        return False
    scalars = all(value is None or isinstance(value, (int, float)) or
                  (isinstance(value, str) and len(value) <= names.MAX_TEXT_LENGTH)
                  for value in record["features"].values())
    exclude = record.get("exclude", [])
    return (scalars and isinstance(record.get("user", ""), str) and len(record.get("user", "")) <= names.MAX_ID_LENGTH
            and isinstance(exclude, list)
            and all(isinstance(item, str) and len(item) <= names.MAX_ID_LENGTH for item in exclude))


def _list_table(table: pa.Table) -> pa.Table:
    """Columns as list arrays of tf.Example's types, as ingest writes them and TFDV reads them."""
    return pa.table({name: examples.to_list_array(table.column(name).combine_chunks()) for name in table.column_names})


def read_training(examples_uri: str, features: list[str]) -> Training:
    """Training's users and items, and each user's values of `features`, from the train split."""
    table = examples.read_split(examples_uri, names.TRAIN)
    if not table.num_rows:
        raise MonitorError(f"the train split of '{examples_uri}' is empty: there is nothing to compare with")
    users = np.array(_first_text(table, names.USER_ID), dtype=object)
    distinct, first_rows = np.unique(users, return_index=True)
    present = [name for name in features if name in table.column_names]
    columns = {name: examples.first_values(table, name).take(first_rows).to_pylist() for name in present}
    user_features = {user: {name: _plain(columns[name][index]) for name in present}
                     for index, user in enumerate(distinct)}
    return Training(set(distinct), set(_first_text(table, names.ITEM_ID)), user_features)


def _first_text(table: pa.Table, name: str) -> list[str]:
    return examples.first_values(table, name).cast(pa.large_string()).to_pylist()


def _plain(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value
