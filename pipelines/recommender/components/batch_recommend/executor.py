"""Batch recommendations (TFX's BulkInferrer for the kubetfx contract): the top-K of the blessed
model for every user of a table, or for a list of users, written to one Parquet file.

Users go through the model in batches (one call of its `serving_default` signature each, as the
server does per request), with a progress line every few seconds for `kubectl logs` and the KFP
UI. The file is written under a temporary name and renamed (local) or copied whole (`gs://`) only
when every user is in it, so a reader never sees a partial result.

Which users, and their features:
- `user_table_uri`: a table (CSV or Parquet) keyed by `user_id` with the features the model takes,
  as ingest reads it; alone, every user in it is recommended for.
- `user_ids_uri`: the users to recommend for: a text file with one id per line (`.txt`), or a
  table with a `user_id` column (and, optionally, the features). A listed user missing from the
  user table gets the neutral value of each feature (as an unknown user at serving time), and is
  counted in the figures.

Output columns: `user_id`, `items` (list of item ids, best first), `scores` (list of float32, same
order), `model_version`.
"""
import dataclasses
import os
import tempfile
import time
import uuid

import numpy as np
import pandas as pd

from kubetfx.components.common import fs, reports, timing
from kubetfx.components.common.errors import InputDataError
from kubetfx.pipelines.recommender import names

TASK = "batch_recommend"
OUTPUT_FILE = "recommendations.parquet"  # inside the KFP Dataset artifact
COLUMNS = (names.USER_ID, "items", "scores", "model_version")


@dataclasses.dataclass(frozen=True)
class BatchRecommendConfig:
    k: int = 10
    batch_size: int = 1024  # users per model call: large enough to amortise the call, small enough for memory
    progress_seconds: float = 10.0  # a progress line at most this often (and one at the end)
    parquet_row_group: int = 65_536  # users per Parquet row group (readers stream by row group)

    def __post_init__(self):
        if self.k < 1 or self.batch_size < 1 or self.progress_seconds <= 0 or self.parquet_row_group < 1:
            raise ValueError("k, batch_size, progress_seconds and parquet_row_group must be positive")


def run(model_dir: str, version: str, out_path: str, report_path: str, user_table_uri: str = "",
        user_ids_uri: str = "", config: BatchRecommendConfig = BatchRecommendConfig(), model=None) -> dict:
    """Writes the top-`config.k` of the model at `model_dir` for the chosen users to `out_path`
    (local or gs://, Parquet); returns the figures. `model` (a loaded `LoadedModel`) skips loading."""
    watch = timing.Stopwatch()
    with timing.stage(TASK, "reading the users"):
        users, not_in_table = read_users(user_table_uri, user_ids_uri)
    if model is None:
        from kubetfx.pipelines.recommender.serving.loaded import LoadedModel

        with timing.stage(TASK, f"loading the model {model_dir}"):
            model = LoadedModel(model_dir, version)
    if config.k > len(model.catalogue):
        raise InputDataError(f"k={config.k} is more than the {len(model.catalogue)} items of the model's catalogue")
    columns = feature_columns(users, model.features, user_table_uri or user_ids_uri)
    scoring = timing.Stopwatch()
    written = _write(model, users[names.USER_ID].to_numpy(dtype=object), columns, out_path, config)
    seconds = max(scoring.seconds, 1e-9)
    figures = {"users": written, "users_not_in_table": not_in_table, "k": config.k, "batch_size": config.batch_size,
               "model_version": version, "model_dir": model_dir, "output": out_path,
               "scoring_seconds": round(seconds, 3), "users_per_second": round(written / seconds, 1),
               names.META_WALL_SECONDS: watch.seconds}
    fs.write_text(report_path, _report(figures))
    return figures


def read_users(user_table_uri: str, user_ids_uri: str) -> tuple[pd.DataFrame, int]:
    """The users to recommend for with whatever features the inputs give (NaN where none), and how
    many listed users the user table lacks."""
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest

    if not user_table_uri and not user_ids_uri:
        raise InputDataError("batch recommendations need users: a user table (every user in it) or a list of user ids")
    table = None
    if user_table_uri:
        table = ingest.read_table(user_table_uri, "users", (names.USER_ID,))
        ingest.check_unique(table, user_table_uri, "users", names.USER_ID)
    if not user_ids_uri:
        return table.reset_index(drop=True), 0
    listed = _read_ids(user_ids_uri)
    if table is None:
        return listed, 0
    # The list's own feature columns win over the table's (they are the caller's latest word).
    extra = [column for column in table.columns if column not in listed.columns or column == names.USER_ID]
    joined = listed.merge(table[extra], on=names.USER_ID, how="left", indicator=True)
    not_in_table = int((joined.pop("_merge") == "left_only").sum())
    return joined, not_in_table


def _read_ids(uri: str) -> pd.DataFrame:
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest

    if uri.endswith(".txt"):
        if not fs.exists(uri):
            raise InputDataError(f"user id list '{uri}' does not exist or cannot be read: expected one user id per line")
        ids = [line.strip() for line in fs.read_text(uri).splitlines() if line.strip()]
        if not ids:
            raise InputDataError(f"user id list '{uri}' holds no user id: expected one per line")
        frame = pd.DataFrame({names.USER_ID: ids})
    else:
        frame = ingest.read_table(uri, "user ids", (names.USER_ID,))
    duplicated = frame[names.USER_ID].duplicated()
    if duplicated.any():  # one answer per user: repeats are dropped, not an error
        timing.LOG.info("[%s] %d repeated user ids in '%s' are recommended for once", TASK, int(duplicated.sum()), uri)
        frame = frame[~duplicated]
    return frame.reset_index(drop=True)


def feature_columns(users: pd.DataFrame, features: dict[str, str], source: str) -> dict[str, np.ndarray]:
    """Each feature the model takes as an array of its kind; missing values (a user the table lacks,
    an empty cell) get the kind's neutral value, as the server's unknown users do. A column the
    model takes that the inputs lack entirely is an error: silently neutral features for every user
    would give everyone the same recommendations."""
    from kubetfx.pipelines.recommender.serving.loaded import INTEGER, NUMBER, STRING

    columns = {}
    for name, kind in features.items():
        if name not in users.columns:
            raise InputDataError(f"'{source}' has no column '{name}', which the model takes (it takes "
                                 f"{', '.join(sorted(features))}); pass a user table with it")
        values = users[name]
        if kind == STRING:
            columns[name] = np.where(values.isna(), "", values.astype(str)).astype(object)
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise InputDataError(f"'{source}' row {row + 1}, column '{name}': expected a number, got {values.iloc[row]!r}")
        dtype = {INTEGER: np.int64, NUMBER: np.float32}[kind]
        columns[name] = numbers.fillna(0).to_numpy().astype(dtype)
    return columns


def _write(model, user_ids: np.ndarray, columns: dict[str, np.ndarray], out_path: str,
           config: BatchRecommendConfig) -> int:
    """Scores in batches and streams row groups into a local temporary Parquet file, then puts it
    at `out_path` whole; returns the users written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kubetfx.pipelines.recommender.serving.loaded import Batch

    schema = pa.schema([(names.USER_ID, pa.string()), ("items", pa.list_(pa.string())),
                        ("scores", pa.list_(pa.float32())), ("model_version", pa.string())])
    total = len(user_ids)
    progress = _Progress(total, config.progress_seconds)
    local, staging = _local_target(out_path)
    try:
        with pq.ParquetWriter(local, schema) as writer:
            pending = []
            for start in range(0, total, config.batch_size):
                stop = min(start + config.batch_size, total)
                batch = Batch({name: values[start:stop] for name, values in columns.items()},
                              [config.k] * (stop - start), [frozenset()] * (stop - start))
                answers = model.recommend(batch)
                pending.append(pa.table({
                    names.USER_ID: pa.array(user_ids[start:stop], pa.string()),
                    "items": pa.array([answer.items for answer in answers], pa.list_(pa.string())),
                    "scores": pa.array([answer.scores for answer in answers], pa.list_(pa.float32())),
                    "model_version": pa.array([model.version] * (stop - start), pa.string()),
                }, schema=schema))
                if sum(part.num_rows for part in pending) >= config.parquet_row_group or stop == total:
                    writer.write_table(pa.concat_tables(pending), row_group_size=config.parquet_row_group)
                    pending = []
                progress.update(stop)
        _publish(local, out_path)
    finally:
        if staging and os.path.exists(staging):
            os.remove(staging)
    return total


def _local_target(out_path: str) -> tuple[str, str]:
    """Where the Parquet writer writes: a hidden file beside a local target (renamed at the end),
    or a local temporary file for gs:// (copied at the end). Returns (path, path to remove on failure)."""
    if "://" in out_path:
        handle, path = tempfile.mkstemp(prefix="kubetfx-recommendations-", suffix=".parquet")
        os.close(handle)
        return path, path
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f".{os.path.basename(out_path)}.{uuid.uuid4().hex[:8]}.tmp")
    return path, path


def _publish(local: str, out_path: str) -> None:
    if "://" in out_path:
        fs.makedirs(out_path.rsplit("/", 1)[0])
        fs.gfile().copy(local, out_path, overwrite=True)
    else:
        os.replace(local, out_path)


class _Progress:
    """Logs users done, the share, users per second and the time left, at most every `seconds`."""

    def __init__(self, total: int, seconds: float):
        self._total, self._every = total, seconds
        self._start = time.perf_counter()
        self._last = 0.0
        timing.configure_logging()

    def update(self, done: int) -> None:
        elapsed = time.perf_counter() - self._start
        if done < self._total and elapsed - self._last < self._every:
            return
        self._last = elapsed
        rate = done / elapsed if elapsed else 0.0
        left = (self._total - done) / rate if rate else 0.0
        timing.LOG.info("[%s] %s/%s users (%.0f%%), %s users/s, about %.0f s left", TASK, f"{done:,}",
                        f"{self._total:,}", 100 * done / self._total if self._total else 100, f"{rate:,.0f}", left)


def _report(figures: dict) -> str:
    return "\n\n".join([
        "# Batch recommendations",
        reports.markdown_table(["figure", "value"], [
            ["users", f"{figures['users']:,}"],
            ["listed users the user table lacks (neutral features)", figures["users_not_in_table"]],
            ["items per user (k)", figures["k"]],
            ["model version", figures["model_version"]],
            ["model", figures["model_dir"]],
            ["users per second", f"{figures['users_per_second']:,}"],
            ["output", figures["output"]],
        ]),
    ]) + "\n"
