"""Reading and writing split examples: `Split-<name>/data_tfrecord-*.gz`, as TFX's ExampleGen.

Columns travel as Arrow list arrays (one list per example, null when missing), the form tfx-bsl
encodes to and decodes from `tf.Example` in C++. A missing value is written as a feature without
values (decoded as null), never as an empty list: TFDV counts the first as missing and the second
as present with no values.
"""
import functools
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import google_crc32c
import pyarrow as pa
import pyarrow.compute as pc

from kubetfx.components.common import fs, names

_BATCH_ROWS = 50_000
# Rows per file of a split: a gzipped file cannot be split, so a file is what a parallel Beam runner
# (Dataflow, Flink, Spark) hands one worker; a split of millions of rows in one file keeps one busy.
ROWS_PER_SHARD = 250_000
# gzip's fastest level: on a transformed split of 1M rows 2.1 s against 6.9 s at the default (6),
# for files 30% larger.
_GZIP_LEVEL = 1
_GZIP_WINDOW_BITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


def split_uri(artifact_uri: str, split: str) -> str:
    return fs.join(artifact_uri, names.SPLIT_PREFIX + split)


def split_pattern(artifact_uri: str, split: str) -> str:
    return fs.join(split_uri(artifact_uri, split), f"{names.EXAMPLES_FILE_PREFIX}-*{names.EXAMPLES_FILE_SUFFIX}")


def _example_type(value_type: pa.DataType) -> pa.DataType:
    """The Arrow type tf.Example can hold for a column's values: bytes, int64 or float32."""
    if pa.types.is_integer(value_type) or pa.types.is_boolean(value_type):
        return pa.int64()
    if pa.types.is_floating(value_type):
        return pa.float32()
    return pa.binary()


def to_list_array(array: pa.Array) -> pa.Array:
    """Wraps a flat column as one-value lists, with nulls becoming null lists (missing features)."""
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        return array.cast(pa.list_(_example_type(array.type.value_type)))
    array = array.cast(_example_type(array.type))
    valid = array.is_valid()
    values = array.filter(valid)
    lengths = pc.cast(valid, pa.int32())
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths)])
    return pa.ListArray.from_arrays(offsets, values, mask=pc.invert(valid))


def write_split(table: pa.Table, artifact_uri: str, split: str, shards: int | None = None) -> int:
    """Writes `table` (flat or list columns) as gzipped TFRecords of tf.Example, in `shards` files
    (default: one per `ROWS_PER_SHARD` rows); returns rows."""
    shards = shards or max(1, -(-table.num_rows // ROWS_PER_SHARD))
    directory = split_uri(artifact_uri, split)
    fs.makedirs(directory)
    per_shard = -(-table.num_rows // shards) if table.num_rows else 0

    def write_shard(shard: int) -> None:
        path = fs.join(directory, f"{names.EXAMPLES_FILE_PREFIX}-{shard:05d}-of-{shards:05d}{names.EXAMPLES_FILE_SUFFIX}")
        write_file(table.slice(shard * per_shard, per_shard), path)

    _each_in_threads(write_shard, range(shards))
    return table.num_rows


def _each_in_threads(function, items) -> list:
    """`function` over `items` in threads, results in the items' order. The encoding, gzip and
    decoding run in C++ without the GIL: a 750k-row split wrote 1.9x and read 1.3x faster on 2 cores."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), os.cpu_count() or 1))) as pool:
        return list(pool.map(function, items))


def write_file(table: pa.Table, path: str) -> None:
    """Writes `table` to one gzipped TFRecord file of tf.Example, encoded by tfx-bsl in C++ (which
    keeps 0, 0.0 and empty strings as values: only nulls become missing features)."""
    lists = pa.table({name: to_list_array(table.column(name).combine_chunks()) for name in table.column_names})
    with fs.gfile().GFile(path, "wb") as file:
        for batch in lists.to_batches(max_chunksize=_BATCH_ROWS):
            file.write(gzip_member(batch))


def gzip_member(batch: pa.RecordBatch) -> bytes:
    """A record batch of list columns as tf.Examples in TFRecords, compressed as one gzip member.

    A gzip file is a series of members (RFC 1952), which TensorFlow, tfx-bsl, Beam and gzip all
    read. An empty batch gives no member: TensorFlow's reader stops at an empty one and would miss
    the members after it; a file of no members (0 bytes) reads as no rows."""
    from tfx_bsl.coders import example_coder

    if not batch.num_rows:
        return b""
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WINDOW_BITS)
    return compressor.compress(framed_records(example_coder.RecordBatchToExamples(batch))) + compressor.flush()


def framed_records(records: list[bytes]) -> bytes:
    """Records in the TFRecord format: each as its length, the length's masked CRC-32C, the record
    and its masked CRC-32C (what `tf.io.TFRecordWriter` writes)."""
    parts = []
    for record in records:
        parts.extend((_framed_length(len(record)), record, _masked_crc(record)))
    return b"".join(parts)


@functools.lru_cache(maxsize=65_536)
def _framed_length(length: int) -> bytes:
    encoded = _LENGTH.pack(length)
    return encoded + _masked_crc(encoded)


def _masked_crc(data: bytes) -> bytes:
    crc = google_crc32c.value(data)
    return _CRC.pack((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def read_split(artifact_uri: str, split: str) -> pa.Table:
    """Reads a split back as an Arrow table of list columns (decoded in C++ by tfx-bsl)."""
    files = fs.glob(split_pattern(artifact_uri, split))
    return read_files(files)


def read_files(files: list[str]) -> pa.Table:
    """The files' examples in the files' order, one file per thread."""
    tables = [table for per_file in _each_in_threads(_read_file, files) for table in per_file]
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="default")


def _read_file(path: str) -> list[pa.Table]:
    """One file's examples, a table per batch of records."""
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    decoder = example_coder.ExamplesToRecordBatchDecoder()
    dataset = tf.data.TFRecordDataset(path, compression_type="GZIP").batch(_BATCH_ROWS)
    return [pa.Table.from_batches([decoder.DecodeBatch(list(records))]) for records in dataset.as_numpy_iterator()]


def first_values(table: pa.Table, column: str) -> pa.Array:
    """The first value of each example's list (null where the feature is missing)."""
    lists = table.column(column).combine_chunks()
    if pa.types.is_null(lists.type):  # the feature is missing from every example (an empty column)
        return pa.nulls(len(lists))
    has_value = pc.fill_null(pc.greater(pc.list_value_length(lists), 0), False)
    present = pc.if_else(has_value, lists, pa.scalar(None, lists.type))
    return pc.list_element(present, 0)
