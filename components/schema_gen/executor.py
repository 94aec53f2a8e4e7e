"""The generic schema_gen: TFX's own SchemaGen executor (`tfdv.infer_schema` over the statistics of
every split, updated split by split) on local paths; it writes `schema.pbtxt`, as TFX does.

A curated schema (edited by hand, kept in version control) does not need this step: pass its folder
to statistics_gen, example_validator, transform and train through `dsl.importer`.
"""
import json

from kubetfx.components.common import fs, names, schema, timing, tfx_executors


def run(statistics_uri: str, schema_uri: str, infer_feature_shape: bool = True,
        exclude_splits: tuple[str, ...] = ()) -> dict:
    """Infers a schema from the statistics under `statistics_uri` (TFX's layout, all splits but
    `exclude_splits`) into `schema_uri`/schema.pbtxt; returns the features by type."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx.components.schema_gen import executor as tfx_schema_gen
    from tfx.types import standard_component_specs as specs

    watch = timing.Stopwatch()
    statistics = tfx_executors.artifact("ExampleStatistics", statistics_uri, tfx_executors.split_names(statistics_uri, "statistics_uri"))
    properties = {specs.INFER_FEATURE_SHAPE_KEY: int(infer_feature_shape),
                  specs.EXCLUDE_SPLITS_KEY: json.dumps(list(exclude_splits))}
    tfx_executors.run(tfx_schema_gen.Executor, {specs.STATISTICS_KEY: [statistics]},
                      {specs.SCHEMA_KEY: [tfx_executors.artifact("Schema", schema_uri)]}, properties)
    inferred = schema.read(fs.join(schema_uri, names.SCHEMA_FILE))
    return {"features": {feature.name: schema_pb2.FeatureType.Name(feature.type) for feature in inferred.feature},
            names.META_WALL_SECONDS: watch.seconds}
