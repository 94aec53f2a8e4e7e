"""The generic statistics_gen: TFX's own StatisticsGen executor (TFDV) on local paths.

TFX's executor does the work, so the statistics are laid out as TFX lays them out:
`Split-<name>/FeatureStats.pb` (a `DatasetFeatureStatisticsList`), readable with
`tfdv.load_stats_binary` and by TFX's SchemaGen and ExampleValidator. What is added here: the splits
found from the examples' `Split-<name>/` folders (an imported artifact carries none), errors that
name the folder and the fix, and each split's example count as a plain figure.
"""
import json

from kubetfx.components.common import fs, names, timing, tfx_executors


def run(examples_uri: str, statistics_uri: str, schema_uri: str = "", stats_options_json: str = "",
        exclude_splits: tuple[str, ...] = (), beam_pipeline_args: list[str] | None = None) -> dict:
    """TFDV's statistics of every split of `examples_uri` (but `exclude_splits`), written under
    `statistics_uri`; a schema folder (`schema_uri`, holding schema.pbtxt) makes TFDV compute them
    by the schema's types and domains. Returns the splits and their example counts."""
    from tfx.components.statistics_gen import executor as tfx_statistics_gen
    from tfx.types import standard_component_specs as specs

    watch = timing.Stopwatch()
    splits = tfx_executors.split_names(examples_uri, "examples_uri")
    inputs = {specs.EXAMPLES_KEY: [tfx_executors.artifact("Examples", examples_uri, splits)]}
    if schema_uri:
        inputs[specs.SCHEMA_KEY] = [tfx_executors.artifact("Schema", tfx_executors.schema_folder(schema_uri))]
    statistics = tfx_executors.artifact("ExampleStatistics", statistics_uri)
    properties = {specs.EXCLUDE_SPLITS_KEY: json.dumps(list(exclude_splits)),
                  specs.STATS_OPTIONS_JSON_KEY: stats_options_json or None}
    tfx_executors.run(tfx_statistics_gen.Executor, inputs, {specs.STATISTICS_KEY: [statistics]}, properties,
                      beam_pipeline_args)
    kept = [split for split in splits if split not in exclude_splits]
    return {"splits": kept, names.META_ROWS: {split: _examples(statistics_uri, split) for split in kept},
            names.META_WALL_SECONDS: watch.seconds}


def _examples(statistics_uri: str, split: str) -> int:
    import tensorflow_data_validation as tfdv

    path = fs.join(statistics_uri, names.SPLIT_PREFIX + split, names.FEATURE_STATS_FILE)
    return int(tfdv.load_stats_binary(path).datasets[0].num_examples)
