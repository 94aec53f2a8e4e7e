"""KFP interface of the generic example_validator (TFX's ExampleValidator); the work is in `executor.py`."""
from kfp.dsl import Input, Output

from kubetfx.components.common.artifacts import ExampleAnomalies, ExampleStatistics, Schema
from kubetfx.components.common.kfp_glue import build_component


def example_validator(
    statistics: Input[ExampleStatistics],
    schema: Input[Schema],
    anomalies: Output[ExampleAnomalies],
    blocking_anomalies: list = [],
    fail_on_any_anomaly: bool = False,
    exclude_splits: list = [],
):
    """Checks every split's statistics against the schema with TFX's ExampleValidator executor (TFDV).

    As in TFX, anomalies are recorded and do not stop the run, unless marked blocking: then the step
    fails, after writing its outputs, naming each blocking anomaly's split, column and TFDV's description.

    Args:
        statistics: Statistics per split, from statistics_gen (or TFX's StatisticsGen).
        schema: The schema folder (schema.pbtxt): schema_gen's output or a curated schema imported
            with dsl.importer.
        anomalies: Split-<name>/SchemaDiff.pb per split (TFDV's Anomalies) and anomalies.json (metadata:
            every anomaly, and per split whether it has none).
        blocking_anomalies: TFDV anomaly types that stop the run, e.g. ["SCHEMA_MISSING_COLUMN",
            "UNEXPECTED_DATA_TYPE"] (tensorflow_metadata's AnomalyInfo.Type names).
        fail_on_any_anomaly: Stop the run on any anomaly.
        exclude_splits: Splits not checked.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.example_validator import executor

    record(anomalies, executor.run(statistics.path, schema.path, anomalies.path,
                                   blocking_anomalies=tuple(blocking_anomalies),
                                   fail_on_any_anomaly=fail_on_any_anomaly, exclude_splits=tuple(exclude_splits)))


def build(image: str):
    return build_component(example_validator, image)
