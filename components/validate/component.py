"""KFP interface of the validate step; the work is in `executor.py`."""
from kfp.dsl import HTML, Input, Output

from kubetfx.components.common.artifacts import ExampleStatistics, Examples, Schema
from kubetfx.components.common.kfp_glue import build_component


def validate(
    examples: Input[Examples],
    statistics: Output[ExampleStatistics],
    schema: Output[Schema],
    report: Output[HTML],
):
    """Computes statistics per split, infers a schema from train and checks each split against it.

    Blocking anomalies (a missing column, a type change, an empty split) fail the step with a
    message naming the column; the HTML report is written first.

    Args:
        examples: Split examples from ingest.
        statistics: Per-split statistics (TFDV's DatasetFeatureStatisticsList) and anomalies.
        schema: The schema inferred from train, as schema.pbtxt (tensorflow_metadata).
        report: Statistics, schema and anomalies as a page for the KFP UI.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.validate import executor

    figures = executor.run(examples.path, statistics.path, schema.path, report.path)
    record(statistics, figures)
    record(report, figures)


def build(image: str):
    return build_component(validate, image)
