"""The generic example_validator: TFX's own ExampleValidator executor (`tfdv.validate_statistics` of
every split against the schema) on local paths; it writes `Split-<name>/SchemaDiff.pb` (TFDV's
`Anomalies`), as TFX does.

TFX's ExampleValidator records anomalies and never stops a run; here the anomalies a user marks
blocking (by TFDV's anomaly type, or any anomaly with `fail_on_any_anomaly`) stop it, after the
outputs are written, with an error naming each split, column and TFDV's description, and what to
do. Every anomaly is also one line of `anomalies.json` beside TFX's files.
"""
import json

from kubetfx.components.common import fs, names, timing, tfx_executors
from kubetfx.components.common.errors import KubetfxError, ValidationError

DATASET = "(dataset)"  # the column named for an anomaly of the whole split (e.g. too few examples)


class BlockingConfigError(KubetfxError):
    """blocking_anomalies names something that is not one of TFDV's anomaly types."""


def run(statistics_uri: str, schema_uri: str, anomalies_uri: str, blocking_anomalies: tuple[str, ...] = (),
        fail_on_any_anomaly: bool = False, exclude_splits: tuple[str, ...] = ()) -> dict:
    """Checks each split's statistics under `statistics_uri` against the schema (a folder with
    schema.pbtxt) and writes the anomalies under `anomalies_uri`; raises `ValidationError` for the
    blocking ones. Returns every anomaly and, per split, whether it has none (TFX's 'blessed')."""
    from tfx.components.example_validator import executor as tfx_example_validator
    from tfx.types import standard_component_specs as specs

    watch = timing.Stopwatch()
    blocking = _check_types(blocking_anomalies)
    splits = tfx_executors.split_names(statistics_uri, "statistics_uri")
    inputs = {specs.STATISTICS_KEY: [tfx_executors.artifact("ExampleStatistics", statistics_uri, splits)],
              specs.SCHEMA_KEY: [tfx_executors.artifact("Schema", tfx_executors.schema_folder(schema_uri))]}
    outputs = {specs.ANOMALIES_KEY: [tfx_executors.artifact("ExampleAnomalies", anomalies_uri)]}
    tfx_executors.run(tfx_example_validator.Executor, inputs, outputs,
                      {specs.EXCLUDE_SPLITS_KEY: json.dumps(list(exclude_splits))})
    kept = [split for split in splits if split not in exclude_splits]
    found = [anomaly for split in kept for anomaly in _anomalies(anomalies_uri, split)]
    fs.write_json(fs.join(anomalies_uri, names.ANOMALIES_FILE), found)
    stopping = [anomaly for anomaly in found if fail_on_any_anomaly or set(anomaly["types"]) & blocking]
    if stopping:
        raise ValidationError(f"{len(stopping)} blocking anomal{'y' if len(stopping) == 1 else 'ies'} "
                              f"(written to {fs.join(anomalies_uri, names.ANOMALIES_FILE)}):\n"
                              + "\n".join(f"- split '{a['split']}', column '{a['column']}' ({', '.join(a['types'])}): "
                                          f"{a['description']}" for a in stopping)
                              + "\nFix the data, or, where the change is expected, update the curated schema "
                              "(tfdv.load_schema_text, edit the column, tfdv.write_schema_text) or stop marking "
                              "the anomaly type blocking")
    return {"anomalies": found, "blessed": {split: not any(a["split"] == split for a in found) for split in kept},
            names.META_WALL_SECONDS: watch.seconds}


def _check_types(blocking_anomalies) -> set[str]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    known = set(anomalies_pb2.AnomalyInfo.Type.keys())
    unknown = [name for name in blocking_anomalies if name not in known]
    if unknown:
        raise BlockingConfigError(f"blocking_anomalies names {unknown}, not TFDV anomaly types: use the names of "
                                  "tensorflow_metadata's AnomalyInfo.Type, e.g. SCHEMA_MISSING_COLUMN, "
                                  "UNEXPECTED_DATA_TYPE, ENUM_TYPE_UNEXPECTED_STRING_VALUES, INT_TYPE_BIG_INT")
    return set(blocking_anomalies)


def _anomalies(anomalies_uri: str, split: str) -> list[dict]:
    """Each anomaly of a split as {split, column, types, description}, read from TFX's file."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    anomalies = anomalies_pb2.Anomalies()
    path = fs.join(anomalies_uri, names.SPLIT_PREFIX + split, names.ANOMALIES_PROTO_FILE)
    with fs.gfile().GFile(path, "rb") as handle:
        anomalies.ParseFromString(handle.read())
    by_column = dict(anomalies.anomaly_info)
    if anomalies.HasField("dataset_anomaly_info"):
        by_column[DATASET] = anomalies.dataset_anomaly_info
    return [{"split": split, "column": column,
             "types": [anomalies_pb2.AnomalyInfo.Type.Name(reason.type) for reason in info.reason],
             "description": info.description or info.short_description}
            for column, info in sorted(by_column.items())]
