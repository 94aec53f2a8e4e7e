"""KFP interface of the generic example_gen (TFX's ExampleGen executors); the work is in `executor.py`."""
from kfp.dsl import Output

from kubetfx.components.common.artifacts import Examples
from kubetfx.components.common.kfp_glue import build_component


def example_gen(
    input_uri: str,
    examples: Output[Examples],
    beam_pipeline_args: list = [],
    file_format: str = "",
    split_buckets: dict = {"train": 2, "eval": 1},
    partition_feature_name: str = "",
    input_splits: dict = {},
    input_config: str = "",
    output_config: str = "",
):
    """Reads CSV, Parquet or TFRecord files into split tf.Examples with TFX's own ExampleGen executors.

    Splits as TFX's ExampleGen does: by hash buckets (default train 2 : eval 1), by a column's value
    (partition_feature_name: all rows with one value land in one split), or kept as given
    (input_splits). The examples are laid out as TFX lays them out: Split-<name>/data_tfrecord-*.gz.

    Args:
        input_uri: A folder (every file in it is read) or a file pattern such as gs://<bucket>/data/*.csv.
        examples: The split examples (metadata: splits, file_format and the TFX configs used).
        beam_pipeline_args: Beam options (empty: in process in the step's pod).
        file_format: csv, parquet or tfrecord (gzipped or not); empty: from the files' extension.
        split_buckets: Each output split's share in hash buckets, e.g. {"train": 8, "eval": 1, "test": 1}
            (KFP passes a dict with its keys sorted, so the splits come in that order).
        partition_feature_name: A column whose value decides the split instead of the whole row's hash.
        input_splits: Splits kept as given: {split: file pattern relative to input_uri}, e.g.
            {"train": "train/*.csv", "eval": "eval/*.csv"}; split_buckets is then not used.
        input_config: TFX's example_gen_pb2.Input as JSON (patterns relative to input_uri); replaces
            input_splits when given.
        output_config: TFX's example_gen_pb2.Output as JSON; replaces split_buckets and
            partition_feature_name when given.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.example_gen import executor

    # With input splits the default buckets do not apply: TFX keeps the input's splits.
    buckets = {} if input_splits or input_config else split_buckets
    record(examples, executor.run(input_uri, examples.path, file_format=file_format, split_buckets=buckets,
                                  partition_feature_name=partition_feature_name, input_splits=input_splits,
                                  input_config=input_config, output_config=output_config,
                                  beam_pipeline_args=beam_pipeline_args))


def build(image: str):
    return build_component(example_gen, image)
