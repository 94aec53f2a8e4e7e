"""KFP interface of the generic statistics_gen (TFX's StatisticsGen); the work is in `executor.py`."""
from typing import Optional

from kfp.dsl import Artifact, Input, Output

from kubetfx.components.common.artifacts import ExampleStatistics, Examples
from kubetfx.components.common.kfp_glue import build_component


def statistics_gen(
    examples: Input[Examples],
    statistics: Output[ExampleStatistics],
    beam_pipeline_args: list = [],
    exclude_splits: list = [],
    stats_options_json: str = "",
    # A plain Artifact: KFP 2.17 adds no import to the step's command for a custom class inside
    # Optional[...], and it takes any typed artifact.
    schema: Optional[Input[Artifact]] = None,
):
    """Computes TFDV's statistics of every split with TFX's StatisticsGen executor.

    Args:
        examples: Split examples (Split-<name>/), as example_gen and TFX's ExampleGen write them.
        statistics: Split-<name>/FeatureStats.pb per split (metadata: splits, rows per split).
        beam_pipeline_args: Beam options (empty: in process in the step's pod).
        exclude_splits: Splits to leave out, e.g. ["test"].
        stats_options_json: tfdv.StatsOptions as JSON (StatsOptions.to_json()); empty: TFDV's defaults.
        schema: A schema folder (schema.pbtxt) whose types and domains the statistics follow.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.statistics_gen import executor

    record(statistics, executor.run(examples.path, statistics.path, schema_uri=schema.path if schema else "",
                                    stats_options_json=stats_options_json, exclude_splits=tuple(exclude_splits),
                                    beam_pipeline_args=beam_pipeline_args))


def build(image: str):
    return build_component(statistics_gen, image)
