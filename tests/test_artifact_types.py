"""Typed artifacts (issue 11): each generic component declares TFX's artifact types, so KFP's compiler
refuses a mis-wired pipeline before anything runs, and the Kubeflow UI shows what each artifact is."""
import re

import pytest
from kfp import compiler, dsl
from kfp.dsl.types.type_utils import InconsistentTypeException

from kubetfx.components.common import artifacts
from kubetfx.components.evaluator import component as evaluator
from kubetfx.components.example_gen import component as example_gen
from kubetfx.components.example_validator import component as example_validator
from kubetfx.components.schema_gen import component as schema_gen
from kubetfx.components.statistics_gen import component as statistics_gen
from kubetfx.components.transform import component as transform

IMAGE = "registry.example/kubetfx:test"


def _type(artifact_class) -> str:
    return f"{artifact_class.schema_title}@{artifact_class.schema_version}"


@pytest.mark.parametrize("module, inputs, outputs", [
    (example_gen, {}, {"examples": artifacts.Examples}),
    (statistics_gen, {"examples": artifacts.Examples, "schema": dsl.Artifact},
     {"statistics": artifacts.ExampleStatistics}),
    (schema_gen, {"statistics": artifacts.ExampleStatistics}, {"schema": artifacts.Schema}),
    (example_validator, {"statistics": artifacts.ExampleStatistics, "schema": artifacts.Schema},
     {"anomalies": artifacts.ExampleAnomalies}),
    (transform, {"examples": artifacts.Examples, "schema": artifacts.Schema},
     {"transformed_examples": artifacts.Examples, "transform_graph": artifacts.TransformGraph}),
    (evaluator, {"examples": artifacts.Examples, "model": dsl.Model},
     {"evaluation": artifacts.ModelEvaluation, "blessing": artifacts.ModelBlessing}),
])
def test_components_declare_tfx_types(module, inputs, outputs):
    spec = module.build(IMAGE).component_spec
    assert {name: spec.inputs[name].type for name in inputs} == {n: _type(c) for n, c in inputs.items()}
    assert {name: spec.outputs[name].type for name in outputs} == {n: _type(c) for n, c in outputs.items()}


def test_statistics_wired_as_a_schema_is_refused():
    statistics_gen_op, transform_op = statistics_gen.build(IMAGE), transform.build(IMAGE)
    example_gen_op = example_gen.build(IMAGE)

    with pytest.raises(InconsistentTypeException, match="system.ExampleStatistics"):
        @dsl.pipeline(name="miswired")
        def miswired(data_uri: str, module_file: str):
            examples = example_gen_op(input_uri=data_uri).outputs["examples"]
            statistics = statistics_gen_op(examples=examples).outputs["statistics"]
            transform_op(examples=examples, schema=statistics, module_file=module_file, beam_pipeline_args=[])


def test_typed_artifacts_compile_into_the_spec(tmp_path):
    example_gen_op, statistics_gen_op = example_gen.build(IMAGE), statistics_gen.build(IMAGE)

    @dsl.pipeline(name="typed")
    def typed(data_uri: str):
        statistics_gen_op(examples=example_gen_op(input_uri=data_uri).outputs["examples"])

    target = tmp_path / "typed.yaml"
    compiler.Compiler().compile(typed, str(target))
    text = target.read_text()
    assert "schemaTitle: system.Examples" in text and "schemaTitle: system.ExampleStatistics" in text
    # The step image imports the classes to rebuild the artifacts (KFP adds the import to the command).
    assert "from kubetfx.components.common.artifacts import" in text


def test_schema_titles_are_ones_vertex_ai_accepts():
    # Vertex AI's ML Metadata refuses a title outside this pattern when the run starts
    # (INVALID_ARGUMENT "MetadataSchema must include a schema title that satisfies ...").
    vertex_title = re.compile(r"^[a-z][a-z0-9-_]{2,20}[.][A-Z][a-zA-Z0-9-_]{2,49}$")
    classes = [value for value in vars(artifacts).values() if isinstance(value, type) and value.__module__ == artifacts.__name__]
    assert len(classes) == 9
    assert [c.schema_title for c in classes if not vertex_title.match(c.schema_title)] == []
    assert len({c.schema_title for c in classes}) == len(classes)
