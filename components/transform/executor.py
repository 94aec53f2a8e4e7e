"""Transform: tensorflow-transform's analyze-and-transform on Beam with the module file's
`preprocessing_fn`.

The analysis runs over train only (so eval never leaks into vocabularies or statistics) and
the resulting graph transforms both splits. Beam pipeline arguments pass through untouched, so
the same step runs in process here (beam_options) and on Dataflow, Flink or Spark at scale.
"""
import tempfile

import apache_beam as beam

from kubetfx.components.common import beam_examples, beam_options, examples, fs, names, reports, schema, timing, user_module
from kubetfx.components.common.errors import TransformError

_TELEMETRY = ["kubetfx", names.TASK_TRANSFORM]
_ROWS_COUNTER = "transformed_rows_"
_READ_COUNTER = "read_rows_"
TRANSFORM_FN_DIR = "transform_fn"
TRANSFORMED_METADATA_DIR = "transformed_metadata"
RAW_METADATA_DIR = "metadata"


def run(
    examples_uri: str,
    schema_uri: str,
    module_file: str,
    transform_graph_uri: str,
    transformed_examples_uri: str,
    report_path: str,
    beam_pipeline_args: list[str] | None = None,
) -> dict:
    """Analyzes train, transforms train and eval; returns the figures for the artifacts."""
    import tensorflow_transform as tft

    watch = timing.Stopwatch()
    preprocessing_fn = user_module.load_function(module_file, user_module.PREPROCESSING_FN)
    raw_schema = schema.read(fs.join(schema_uri, names.SCHEMA_FILE))
    with timing.stage(names.TASK_TRANSFORM, "analyze and transform on Beam"):
        rows = _run_beam(examples_uri, raw_schema, preprocessing_fn, transform_graph_uri,
                         transformed_examples_uri, beam_pipeline_args or [])
    output = tft.TFTransformOutput(transform_graph_uri)
    figures = {
        names.META_ROWS: rows,
        "transformed_features": sorted(output.transformed_feature_spec()),
        "vocabularies": _vocabulary_sizes(output),
        "split_names": list(names.SPLITS),
        names.META_WALL_SECONDS: watch.seconds,
    }
    fs.write_text(report_path, _report(figures, output))
    return figures


def _run_beam(examples_uri, raw_schema, preprocessing_fn, transform_graph_uri, transformed_uri, beam_args) -> dict:
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
    from tfx_bsl.public import tfxio

    patterns = {split: examples.split_pattern(examples_uri, split) for split in names.SPLITS}
    # TFXIO's readers give TFT the tensor adapter; ReadExamples decodes the files with the same schema.
    readers = {split: tfxio.TFExampleRecord(file_pattern=pattern, schema=raw_schema, telemetry_descriptors=_TELEMETRY)
               for split, pattern in patterns.items()}
    temp_dir = tempfile.mkdtemp(prefix="kubetfx-tft-")
    pipeline = beam.Pipeline(options=beam_options.pipeline_options(beam_args))
    with tft_beam.Context(temp_dir=temp_dir):
        train = readers[names.TRAIN]
        raw_train = pipeline | "ReadTrain" >> beam_examples.ReadExamples(patterns[names.TRAIN], raw_schema, _TELEMETRY)
        _ = raw_train | "CountTrain" >> _CountRows(names.TRAIN)
        (transformed_train, _), transform_fn = (
            (raw_train, train.TensorAdapterConfig())
            | "AnalyzeAndTransform" >> tft_beam.AnalyzeAndTransformDataset(preprocessing_fn, output_record_batches=True)
        )
        evaluation = readers[names.EVAL]
        raw_eval = pipeline | "ReadEval" >> beam_examples.ReadExamples(patterns[names.EVAL], raw_schema, _TELEMETRY)
        _ = raw_eval | "CountEval" >> _CountRows(names.EVAL)
        transformed_eval, _ = (
            ((raw_eval, evaluation.TensorAdapterConfig()), transform_fn)
            | "TransformEval" >> tft_beam.TransformDataset(output_record_batches=True)
        )
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(transform_graph_uri)
        for split, batches in ((names.TRAIN, transformed_train), (names.EVAL, transformed_eval)):
            _ = batches | f"Write{split}" >> _WriteExamples(transformed_uri, split)
    result = pipeline.run()
    result.wait_until_finish()
    # TFTransformOutput.raw_feature_spec(), which the serving model needs, reads this folder.
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(raw_schema), fs.join(transform_graph_uri, RAW_METADATA_DIR))
    written = {split: _counter(result, _ROWS_COUNTER + split) for split in names.SPLITS}
    check_rows({split: _counter(result, _READ_COUNTER + split) for split in names.SPLITS}, written, examples_uri)
    return written


def check_rows(read: dict, written: dict, examples_uri: str) -> None:
    """Fails the step when a split's transformed rows are not the rows it read: a runner that drops
    rows without an error (Beam's multi-process FnApiRunner did, at 5M) must not hand train less data."""
    for split in names.SPLITS:
        if read[split] != written[split]:
            raise TransformError(
                f"Beam read {read[split]:,} rows of split '{split}' from {examples.split_pattern(examples_uri, split)} "
                f"but wrote {written[split]:,} transformed rows: the runner lost rows. Run the step again with "
                "another runner or running mode in beam_pipeline_args; nothing downstream used this output")


class _CountRows(beam.PTransform):
    def __init__(self, split: str):
        super().__init__()
        self._split = split

    def expand(self, batches):
        counter = beam.metrics.Metrics.counter("kubetfx", _READ_COUNTER + self._split)
        return batches | beam.Map(lambda batch: counter.inc(batch.num_rows))


class _WriteExamples(beam.PTransform):
    """Encodes transformed record batches as tf.Examples and writes them in the Split- layout."""

    def __init__(self, artifact_uri: str, split: str):
        super().__init__()
        self._prefix = fs.join(examples.split_uri(artifact_uri, split), names.EXAMPLES_FILE_PREFIX)
        self._split = split

    def expand(self, batches):
        counter = beam.metrics.Metrics.counter("kubetfx", _ROWS_COUNTER + self._split)

        def count(batch_and_passthrough):
            counter.inc(batch_and_passthrough[0].num_rows)
            return batch_and_passthrough[0]

        return (
            batches
            | "Count" >> beam.Map(count)
            | "Write" >> beam_examples.WriteExamples(self._prefix, names.EXAMPLES_FILE_SUFFIX)
        )


def _counter(result, name: str) -> int:
    from apache_beam.metrics.metric import MetricsFilter

    query = result.metrics().query(MetricsFilter().with_name(name))
    return int(sum(c.committed or 0 for c in query["counters"]))


def _vocabulary_sizes(output) -> dict:
    vocab_dir = fs.join(output.transform_savedmodel_dir, "assets")
    if not fs.exists(vocab_dir):
        return {}
    return {name: output.vocabulary_size_by_name(name) for name in fs.gfile().listdir(vocab_dir)}


def _report(figures: dict, output) -> str:
    spec = output.transformed_feature_spec()
    feature_rows = [[name, type(spec[name]).__name__, spec[name].dtype.name] for name in sorted(spec)]
    return "\n\n".join([
        "# Transform",
        reports.markdown_table(["split", "rows"], list(figures[names.META_ROWS].items())),
        "## Transformed features",
        reports.markdown_table(["feature", "kind", "dtype"], feature_rows),
        "## Vocabularies",
        reports.markdown_table(["vocabulary", "size"], sorted(figures["vocabularies"].items())),
        f"Wall time: {figures[names.META_WALL_SECONDS]:.1f} s",
    ]) + "\n"
