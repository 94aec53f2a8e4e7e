"""Reading and writing a split's tf.Examples (on Beam, a file or a record batch per element): the same
bytes TensorFlow writes, the same record batches TFXIO decodes, every row once."""
import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import tensorflow as tf
from apache_beam.testing.util import assert_that, equal_to
from tfx_bsl.public import tfxio

from kubetfx.components.common import beam_examples, beam_options, examples, fs, names


def _table(rows: int, start: int = 0) -> pa.Table:
    return pa.table({
        "user_id": [f"u{i % 7}" for i in range(start, start + rows)],
        "item_id": [f"i{i}" for i in range(start, start + rows)],
        "rating": [float(i % 5) for i in range(start, start + rows)],
        "genres": [["a", "b"][: i % 3] or None for i in range(start, start + rows)],
    })


def _sorted(table: pa.Table) -> pa.Table:
    """The table's rows in item order (the order in which files and batches are read is the runner's)."""
    order = pc.sort_indices(examples.first_values(table, "item_id"))
    return table.select(sorted(table.column_names)).take(order)


def _check_read(pattern: str, check, raw_schema=None, batch_size: int = beam_options.RECORD_BATCH_ROWS) -> None:
    """Runs ReadExamples; `check` gets every record batch it gave (Beam returns no results)."""
    with beam.Pipeline(options=beam_options.pipeline_options()) as pipeline:
        read = pipeline | beam_examples.ReadExamples(pattern, raw_schema, batch_size=batch_size)
        assert_that(read, check)


@pytest.mark.parametrize("lengths", [[0], [1, 2, 3], [300, 70_000, 5], [10] * 100])
def test_framed_records_are_the_bytes_tensorflow_writes(tmp_path, lengths):
    records = [bytes([n % 251]) * n for n in lengths]
    path = str(tmp_path / "records")
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
    with open(path, "rb") as written:
        assert examples.framed_records(records) == written.read()


def test_reading_gives_every_row_of_every_file_once_in_batches_of_the_size_asked(tmp_path):
    uri = str(tmp_path / "examples")
    examples.write_split(_table(53), uri, names.TRAIN, shards=3)
    expected = _sorted(examples.read_split(uri, names.TRAIN))

    def check(batches):
        assert max(batch.num_rows for batch in batches) == 8
        assert _sorted(pa.Table.from_batches(batches)).equals(expected)

    _check_read(examples.split_pattern(uri, names.TRAIN), check, batch_size=8)


_SCHEMA = """
feature { name: "user_id" type: BYTES }
feature { name: "item_id" type: BYTES }
feature { name: "rating" type: FLOAT }
feature { name: "genres" type: BYTES }
"""


def test_reading_with_a_schema_decodes_as_tfxio_does(tmp_path):
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    uri = str(tmp_path / "examples")
    examples.write_split(_table(20), uri, names.TRAIN)
    pattern = examples.split_pattern(uri, names.TRAIN)
    raw_schema = text_format.Parse(_SCHEMA, schema_pb2.Schema())
    expected = tfxio.TFExampleRecord(file_pattern=pattern, schema=raw_schema).ArrowSchema()

    def check(batches):
        assert batches and all(batch.schema.equals(expected) for batch in batches)
        assert sum(batch.num_rows for batch in batches) == 20

    _check_read(pattern, check, raw_schema)


def test_a_pattern_that_matches_no_file_reads_no_rows(tmp_path):
    _check_read(str(tmp_path / "Split-eval" / "data_tfrecord-*.gz"), equal_to([]))


def test_written_batches_read_back_as_the_rows_they_held_in_the_split_layout(tmp_path):
    uri = str(tmp_path / "out")
    lists = [_list_columns(_table(9)), _list_columns(_table(31, start=9))]
    batches = [lists[0].to_batches()[0], pa.RecordBatch.from_pylist([], schema=lists[0].schema), lists[1].to_batches()[0]]
    prefix = fs.join(examples.split_uri(uri, names.EVAL), names.EXAMPLES_FILE_PREFIX)
    with beam.Pipeline(options=beam_options.pipeline_options()) as pipeline:
        written = (pipeline | beam.Create(batches, reshuffle=False)
                   | beam_examples.WriteExamples(prefix, names.EXAMPLES_FILE_SUFFIX))
        assert_that(written | beam.combiners.Count.Globally(), equal_to([1]))
    files = fs.glob(examples.split_pattern(uri, names.EVAL))
    assert len(files) == 1 and files[0].endswith(names.EXAMPLES_FILE_SUFFIX)
    examples.write_split(pa.concat_tables([_table(9), _table(31, start=9)]), str(tmp_path / "by_tensorflow"), names.EVAL)
    expected = examples.read_split(str(tmp_path / "by_tensorflow"), names.EVAL)
    assert _sorted(examples.read_split(uri, names.EVAL)).equals(_sorted(expected))


def _list_columns(table: pa.Table) -> pa.Table:
    """The table as tf.Example's list columns, the form Transform's record batches have."""
    return pa.table({name: examples.to_list_array(table.column(name).combine_chunks()) for name in table.column_names})
