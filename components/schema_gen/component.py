"""KFP interface of the generic schema_gen (TFX's SchemaGen); the work is in `executor.py`."""
from kfp.dsl import Input, Output

from kubetfx.components.common.artifacts import ExampleStatistics, Schema
from kubetfx.components.common.kfp_glue import build_component


def schema_gen(
    statistics: Input[ExampleStatistics],
    schema: Output[Schema],
    infer_feature_shape: bool = True,
    exclude_splits: list = [],
):
    """Infers a schema from the statistics with TFX's SchemaGen executor (TFDV), as schema.pbtxt.

    A curated schema needs no step: bring its folder in with dsl.importer(artifact_class=dsl.Artifact).

    Args:
        statistics: Statistics per split, from statistics_gen (or TFX's StatisticsGen).
        schema: The folder holding schema.pbtxt (metadata: each feature's type).
        infer_feature_shape: Give features always present with one value a fixed shape (TFX's default).
        exclude_splits: Splits whose statistics the schema ignores, e.g. ["eval"].
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.schema_gen import executor

    record(schema, executor.run(statistics.path, schema.path, infer_feature_shape=infer_feature_shape,
                                exclude_splits=tuple(exclude_splits)))


def build(image: str):
    return build_component(schema_gen, image)
