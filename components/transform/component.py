"""KFP interface of the transform step; the work is in `executor.py`."""
from kfp.dsl import Input, Markdown, Output

from kubetfx.components.common.artifacts import Examples, Schema, TransformGraph
from kubetfx.components.common.kfp_glue import build_component


def transform(
    examples: Input[Examples],
    schema: Input[Schema],
    module_file: str,
    beam_pipeline_args: list,
    transform_graph: Output[TransformGraph],
    transformed_examples: Output[Examples],
    report: Output[Markdown],
):
    """Runs the module file's preprocessing_fn with tensorflow-transform on Beam.

    Analyzes train, then transforms train and eval with the same graph.

    Args:
        examples: Split examples from ingest.
        schema: The schema from validate.
        module_file: A .py file (local or gs://) or an installed module defining preprocessing_fn.
        beam_pipeline_args: Beam options, e.g. ["--runner=DataflowRunner", ...]; empty for DirectRunner.
        transform_graph: The transform graph (tf.Transform output) for Trainer and serving.
        transformed_examples: Transformed train and eval splits.
        report: Rows, transformed features and vocabulary sizes.
    """
    from kubetfx.components.common.kfp_glue import record
    from kubetfx.components.transform import executor

    figures = executor.run(examples.path, schema.path, module_file, transform_graph.path,
                           transformed_examples.path, report.path, beam_pipeline_args=beam_pipeline_args)
    record(transformed_examples, figures)
    record(report, figures)


def build(image: str):
    return build_component(transform, image)
