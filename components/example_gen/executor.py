"""The generic example_gen: CSV, Parquet or TFRecord files to split tf.Examples with TFX's own
ExampleGen executors (CsvExampleGen's and ImportExampleGen's; Parquet files are encoded as
tf.Examples first, since TFX's Parquet executor drops zeros, see `_parquet_as_tfrecords`).

TFX's executor does the work, so the examples are laid out as TFX lays them out
(`Split-<name>/data_tfrecord-*.gz`, gzipped tf.Examples) and split as TFX splits them, by TFX's
`Input`/`Output` configs (`tfx.proto.example_gen_pb2`):

- hash buckets (the default: train 2 : eval 1), each example's bucket a hash of the whole example;
- a column's value (`partition_feature_name`): every example with the same value lands in the
  same split (e.g. a customer's rows never straddle train and eval);
- kept as given (`input_splits`): one file pattern per split, nothing re-split.

What is added here: the input as one folder or file pattern (local or gs://) with its format taken
from the files' extension, and errors that name the pattern or column and what to do, raised
before a Beam pipeline starts.
"""
import json

from kubetfx.components.common import examples, fs, names, timing, tfx_executors
from kubetfx.components.common.errors import InputDataError, KubetfxError

CSV, PARQUET, TFRECORD = "csv", "parquet", "tfrecord"
# Parquet files encoded as tf.Examples here, then split by TFX's ImportExampleGen (see _parquet_as_tfrecords).
TFRECORD_FROM_PARQUET = "tfrecord-from-parquet"
PARQUET_STAGING = ".parquet-as-tfrecords"
FORMATS = {".csv": CSV, ".parquet": PARQUET, ".tfrecord": TFRECORD, ".tfrecords": TFRECORD, ".gz": TFRECORD}
DEFAULT_BUCKETS = {names.TRAIN: 2, names.EVAL: 1}
_GLOB_CHARACTERS = "*?["


class SplitConfigError(KubetfxError):
    """example_gen's split settings, or its Input/Output config, cannot be used."""


def run(input_uri: str, examples_uri: str, file_format: str = "", split_buckets: dict | None = None,
        partition_feature_name: str = "", input_splits: dict | None = None, input_config: str = "",
        output_config: str = "", beam_pipeline_args: list[str] | None = None) -> dict:
    """Reads the files `input_uri` names (a folder: every file in it; or a file pattern) and writes
    split examples under `examples_uri`; returns the splits, the format and the configs used.

    `input_config` / `output_config` (TFX's example_gen_pb2.Input / Output as JSON), when given,
    replace what `input_splits`, `split_buckets` and `partition_feature_name` would build; their
    split patterns are relative to the folder `input_uri` names, as TFX's `input_base`.
    """
    watch = timing.Stopwatch()
    base, pattern = _base_and_pattern(input_uri)
    inputs = _parse(input_config, "Input") if input_config else _input_config(pattern, input_splits)
    outputs = (_parse(output_config, "Output") if output_config
               else _output_config(inputs, split_buckets, partition_feature_name))
    _check(inputs, outputs)
    first_file = _first_files(base, inputs)
    file_format = (file_format or _format_of(first_file)).lower()
    if file_format not in (CSV, PARQUET, TFRECORD):
        raise InputDataError(f"file_format '{file_format}' is not one example_gen reads: give csv, parquet or tfrecord")
    if file_format == PARQUET:
        staging = fs.join(examples_uri, PARQUET_STAGING)
        base, inputs = _parquet_as_tfrecords(base, inputs, staging)
        file_format = TFRECORD_FROM_PARQUET
    splits = _run_tfx(file_format, base, inputs, outputs, examples_uri, beam_pipeline_args)
    if file_format == TFRECORD_FROM_PARQUET:
        fs.gfile().rmtree(staging)
        file_format = PARQUET
    return {"splits": splits, "file_format": file_format, "input_config": _json(inputs),
            "output_config": _json(outputs), names.META_WALL_SECONDS: watch.seconds}


def _base_and_pattern(input_uri: str) -> tuple[str, str]:
    """TFX's `input_base` (a folder) and the file pattern relative to it."""
    if not input_uri:
        raise InputDataError("input_uri is empty: give a folder of CSV, Parquet or TFRecord files, or a file pattern")
    tail = input_uri.rstrip("/").rsplit("/", 1)
    if any(character in tail[-1] for character in _GLOB_CHARACTERS) or (fs.exists(input_uri) and not _is_dir(input_uri)):
        return (tail[0] if len(tail) == 2 else "."), tail[-1]
    return input_uri.rstrip("/"), "*"


def _is_dir(path: str) -> bool:
    return fs.gfile().isdir(path)


def _parse(text: str, kind: str):
    from google.protobuf import json_format
    from tfx.proto import example_gen_pb2

    message = getattr(example_gen_pb2, kind)()
    try:
        json_format.Parse(text, message)
    except json_format.ParseError as error:
        raise SplitConfigError(f"{kind.lower()}_config is not a valid tfx.proto.example_gen_pb2.{kind} in JSON: {error}. "
                               "Write it as TFX's ExampleGen takes it, e.g. "
                               + ('{"splits": [{"name": "train", "pattern": "train/*"}]}' if kind == "Input" else
                                  '{"split_config": {"splits": [{"name": "train", "hash_buckets": 2}]}}')) from None
    return message


def _input_config(pattern: str, input_splits: dict | None):
    from tfx.proto import example_gen_pb2

    given = input_splits or {"single_split": pattern}
    return example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name=name, pattern=split_pattern)
                                         for name, split_pattern in given.items()])


def _output_config(inputs, split_buckets: dict | None, partition_feature_name: str):
    from tfx.proto import example_gen_pb2

    if len(inputs.splits) > 1:  # kept as given: TFX names the output splits after the input's
        if split_buckets or partition_feature_name:
            raise SplitConfigError("input_splits keeps the splits as given: leave split_buckets and "
                                   "partition_feature_name empty, or give one input pattern to split by them")
        return example_gen_pb2.Output()
    buckets = split_buckets or DEFAULT_BUCKETS
    # A KFP dict parameter arrives as a protobuf Struct, whose numbers are floats: 2.0 is 2 buckets.
    bad = {name: count for name, count in buckets.items()
           if isinstance(count, bool) or not isinstance(count, (int, float)) or count < 1 or count != int(count)}
    if bad:
        raise SplitConfigError(f"split_buckets {bad}: each split's share must be a whole number of buckets, at "
                               "least 1 (e.g. {'train': 2, 'eval': 1} for two thirds and one third)")
    config = example_gen_pb2.SplitConfig(splits=[example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=int(count))
                                                 for name, count in buckets.items()])
    if partition_feature_name:
        config.partition_feature_name = partition_feature_name
    return example_gen_pb2.Output(split_config=config)


def _check(inputs, outputs) -> None:
    """TFX's own checks (utils.generate_output_split_names), raised as errors saying what to change."""
    from tfx.components.example_gen import utils

    try:
        utils.generate_output_split_names(inputs, outputs)
    except (RuntimeError, ValueError) as error:
        raise SplitConfigError(f"the split settings cannot be used: {error}. Either split one input pattern by "
                               "hash buckets (split_buckets, partition_feature_name), or give one pattern per "
                               "split (input_splits) and no output splits") from None


def _first_files(base: str, inputs) -> str:
    """The first file of the first split; a split whose pattern matches nothing, or a folder (TFX's
    readers would open it as a file), is an error here, before Beam starts."""
    first = ""
    for split in inputs.splits:
        files = fs.glob(fs.join(base, split.pattern))
        folders = [path for path in files if _is_dir(path)]
        if folders:
            raise InputDataError(f"'{fs.join(base, split.pattern)}' (split '{split.name}') matches the folder "
                                 f"'{folders[0]}': give a pattern that selects files only (e.g. '*.csv'), or one "
                                 "pattern per split folder with input_splits (e.g. {'train': 'train/*'})")
        if not files:
            raise InputDataError(f"no file matches '{fs.join(base, split.pattern)}' (split '{split.name}'): check "
                                 "the path and the pattern; a folder is read whole, a pattern such as "
                                 "'data/*.csv' selects files")
        first = first or files[0]
    return first


def _format_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    for extension, file_format in FORMATS.items():
        if name.endswith(extension):
            return file_format
    raise InputDataError(f"cannot tell the format of '{path}' from its name: set file_format to csv, parquet or "
                         "tfrecord, or give a pattern that selects only data files (e.g. '*.csv')")


def _parquet_as_tfrecords(base: str, inputs, staging: str):
    """Each split's Parquet files as gzipped tf.Example files under `staging`, and the Input config
    that reads them. TFX's own Parquet executor loses data: its dict_to_example writes every 0, 0.0,
    False and empty string as a missing feature (a 0 label, a 0 count vanish); tfx-bsl's Arrow
    encoder keeps them, and TFX's ImportExampleGen then splits the records as it splits any."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    converted = type(inputs)()
    converted.CopyFrom(inputs)
    for index, split in enumerate(converted.splits):
        for number, path in enumerate(sorted(fs.glob(fs.join(base, split.pattern)))):
            with fs.gfile().GFile(path, "rb") as source:
                data = source.read()
            try:
                table = pq.read_table(pa.BufferReader(data))
            except pa.ArrowException as error:  # pyarrow's errors name no file
                raise InputDataError(f"'{path}' is not a Parquet file pyarrow can read ({_first_line(error)}): "
                                     "check the file, or set file_format to what it is") from None
            folder = fs.join(staging, str(index))
            fs.makedirs(folder)
            examples.write_file(table, fs.join(folder, f"part-{number:05d}.gz"))
        split.pattern = f"{index}/*"
    return staging, converted


def _run_tfx(file_format: str, base: str, inputs, outputs, examples_uri: str, beam_pipeline_args) -> list[str]:
    from tfx.components.example_gen import utils
    from tfx.components.example_gen.csv_example_gen import executor as csv_executor
    from tfx.components.example_gen.import_example_gen import executor as import_executor
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_component_specs as specs

    executor_class = {CSV: csv_executor.Executor, TFRECORD: import_executor.Executor,
                      TFRECORD_FROM_PARQUET: import_executor.Executor}[file_format]
    examples = tfx_executors.artifact("Examples", examples_uri)
    properties = {specs.INPUT_BASE_KEY: base, specs.INPUT_CONFIG_KEY: _json(inputs),
                  specs.OUTPUT_CONFIG_KEY: _json(outputs),
                  specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE,
                  specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FileFormat.FORMAT_TFRECORDS_GZIP}
    try:
        tfx_executors.run(executor_class, {}, {specs.EXAMPLES_KEY: [examples]}, properties, beam_pipeline_args)
    except RuntimeError as error:
        if "does not exist" in str(error) or "partition" in str(error).lower():
            raise InputDataError(f"partition_feature_name '{outputs.split_config.partition_feature_name}' cannot "
                                 f"split the examples ({_first_line(error)}): name a column every row has, of "
                                 "integers or text") from None
        raise
    return utils.generate_output_split_names(inputs, outputs)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[-1][:300]


def _json(message) -> str:
    from google.protobuf import json_format

    return json.dumps(json_format.MessageToDict(message), sort_keys=True)
