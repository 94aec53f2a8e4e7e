"""Each generic data component runs alone under kfp.local (a subprocess in this environment), its
inputs made by the test and brought in as plain parameters or through dsl.importer: example_gen,
statistics_gen, schema_gen, example_validator (with a curated schema, and stopping on a blocking
anomaly), transform, evaluator, push and latest_blessed. (train and tuner: tests/test_tuner.py.)"""
import json
import pathlib
import warnings

import pyarrow as pa
import pytest
import tensorflow_data_validation as tfdv
from kfp import dsl, local

from kubetfx.components.common import examples, fs, names
from kubetfx.components.evaluator import component as evaluator
from kubetfx.components.example_gen import component as example_gen
from kubetfx.components.example_validator import component as example_validator
from kubetfx.components.latest_blessed import component as latest_blessed
from kubetfx.components.push import component as push
from kubetfx.components.schema_gen import component as schema_gen
from kubetfx.components.statistics_gen import component as statistics_gen
from kubetfx.components.statistics_gen import executor as statistics_executor
from kubetfx.components.transform import component as transform
from test_latest_blessed import pushed
from tfx_style_data import MODULE_FILE, churn_frame

IMAGE = "kubetfx-test"  # the steps run in this environment; the image is only named


@pytest.fixture(autouse=True)
def local_runner(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Split examples (eval with a plan never seen in train), their statistics, and a schema from train."""
    out = tmp_path_factory.mktemp("data")
    frame = churn_frame(150, seed=7)
    drifted = frame.iloc[100:].copy()
    drifted.loc[drifted.index[:3], "plan"] = "platinum"
    for split, rows in ((names.TRAIN, frame.iloc[:100]), (names.EVAL, drifted)):
        examples.write_split(pa.Table.from_pandas(rows, preserve_index=False), str(out / "examples"), split)
    statistics_executor.run(str(out / "examples"), str(out / "statistics"))
    train = tfdv.load_stats_binary(str(out / "statistics" / "Split-train" / names.FEATURE_STATS_FILE))
    (out / "schema").mkdir()
    tfdv.write_schema_text(tfdv.infer_schema(train), str(out / "schema" / names.SCHEMA_FILE))
    frame.to_csv(out / "customers.csv", index=False)
    return out


def _task_folder(tmp_path, task: str) -> pathlib.Path:
    (run,) = (tmp_path / "root").iterdir()
    return run / task


def test_example_gen_alone(data):
    task = example_gen.build(IMAGE)(input_uri=str(data / "customers.csv"), split_buckets={"train": 1, "eval": 1})
    produced = task.outputs["examples"]
    # A dict parameter travels as a protobuf Struct, whose keys come sorted: the splits' order is not kept.
    assert sorted(produced.metadata["splits"]) == sorted(names.SPLITS) and produced.metadata["file_format"] == "csv"
    rows = [examples.read_split(produced.path, split).num_rows for split in names.SPLITS]
    assert sum(rows) == 150 and min(rows) > 40


def test_statistics_gen_alone_on_imported_examples(data, tmp_path):
    op = statistics_gen.build(IMAGE)

    @dsl.pipeline(name="statistics-gen-alone")
    def alone(examples_uri: str):
        imported = dsl.importer(artifact_uri=examples_uri, artifact_class=dsl.Artifact, reimport=False)
        op(examples=imported.output)

    alone(examples_uri=str(data / "examples"))
    statistics = next(_task_folder(tmp_path, "statistics-gen").glob("statistics"))
    assert {path.name for path in statistics.iterdir()} >= {"Split-train", "Split-eval"}
    assert (statistics / "Split-eval" / names.FEATURE_STATS_FILE).is_file()


def test_schema_gen_alone_on_imported_statistics(data, tmp_path):
    op = schema_gen.build(IMAGE)

    @dsl.pipeline(name="schema-gen-alone")
    def alone(statistics_uri: str):
        imported = dsl.importer(artifact_uri=statistics_uri, artifact_class=dsl.Artifact, reimport=False)
        op(statistics=imported.output, exclude_splits=["eval"])

    alone(statistics_uri=str(data / "statistics"))
    schema = tfdv.load_schema_text(str(_task_folder(tmp_path, "schema-gen") / "schema" / names.SCHEMA_FILE))
    assert set(tfdv.get_domain(schema, "plan").value) == {"basic", "standard", "premium"}


def _validator_pipeline(schema_uri: str, blocking: list):
    op = example_validator.build(IMAGE)

    @dsl.pipeline(name="example-validator-alone")
    def alone(statistics_uri: str, schema_uri: str):
        statistics = dsl.importer(artifact_uri=statistics_uri, artifact_class=dsl.Artifact, reimport=False)
        schema = dsl.importer(artifact_uri=schema_uri, artifact_class=dsl.Artifact, reimport=False)
        op(statistics=statistics.output, schema=schema.output, blocking_anomalies=blocking)

    return alone


def test_example_validator_alone_with_a_curated_schema_through_an_importer(data, tmp_path):
    curated = tfdv.load_schema_text(str(data / "schema" / names.SCHEMA_FILE))
    tfdv.get_domain(curated, "plan").value.append("platinum")  # the curator allows the new plan
    (tmp_path / "curated").mkdir()
    tfdv.write_schema_text(curated, str(tmp_path / "curated" / names.SCHEMA_FILE))
    _validator_pipeline(str(tmp_path / "curated"), ["ENUM_TYPE_UNEXPECTED_STRING_VALUES"])(
        statistics_uri=str(data / "statistics"), schema_uri=str(tmp_path / "curated"))
    anomalies = _task_folder(tmp_path, "example-validator") / "anomalies"
    assert (anomalies / "Split-eval" / "SchemaDiff.pb").is_file()
    assert "plan" not in (anomalies / names.ANOMALIES_FILE).read_text()


def test_example_validator_alone_stops_on_a_blocking_anomaly_naming_it(data, tmp_path, capfd):
    with pytest.raises(RuntimeError):
        _validator_pipeline(str(data / "schema"), ["ENUM_TYPE_UNEXPECTED_STRING_VALUES"])(
            statistics_uri=str(data / "statistics"), schema_uri=str(data / "schema"))
    logged = capfd.readouterr()
    assert "split 'eval', column 'plan'" in logged.out + logged.err


def test_latest_blessed_alone(tmp_path):
    op = latest_blessed.build(IMAGE)
    root = pushed(tmp_path, 2.0, 4.0)
    task = op(serving_root=root)
    assert task.outputs["Output"] is True
    champion = task.outputs["model"]
    assert champion.metadata["version"] == "2" and champion.metadata["found"] is True
    assert (pathlib.Path(champion.path) / names.SERVING_MODEL_SUBDIR / "saved_model.pb").is_file()
    empty = op(serving_root=str(tmp_path / "empty"))
    assert empty.outputs["Output"] is False and empty.outputs["model"].metadata["found"] is False


def test_transform_alone_on_imported_examples_and_schema(churn, tmp_path):
    op = transform.build(IMAGE)

    @dsl.pipeline(name="transform-alone")
    def alone(examples_uri: str, schema_uri: str, module_file: str):
        raw = dsl.importer(artifact_uri=examples_uri, artifact_class=dsl.Artifact, reimport=False)
        schema = dsl.importer(artifact_uri=schema_uri, artifact_class=dsl.Artifact, reimport=False)
        op(examples=raw.output, schema=schema.output, module_file=module_file, beam_pipeline_args=[])

    alone(examples_uri=str(churn / "examples"), schema_uri=str(churn / "schema"), module_file=MODULE_FILE)
    task = _task_folder(tmp_path, "transform")
    assert (task / "transform_graph" / "transform_fn" / "saved_model.pb").is_file()
    assert {split: examples.read_split(str(task / "transformed_examples"), split).num_rows > 0
            for split in names.SPLITS} == {split: True for split in names.SPLITS}


AUC_ABOVE_CHANCE = json.dumps({
    "model_specs": [{"signature_name": "serving_default", "label_key": "churned", "prediction_key": "probabilities"}],
    "metrics_specs": [{"metrics": [{"class_name": "AUC", "threshold": {"value_threshold": {"lower_bound": 0.6}}}]}],
})


def test_evaluator_alone_blesses_a_model_meeting_its_eval_config(churn, churn_trained, tmp_path):
    op = evaluator.build(IMAGE)

    @dsl.pipeline(name="evaluator-alone")
    def alone(model_uri: str, examples_uri: str, eval_config: str):
        model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model, reimport=False)
        raw = dsl.importer(artifact_uri=examples_uri, artifact_class=dsl.Artifact, reimport=False)
        op(model=model.output, examples=raw.output, eval_config=eval_config, beam_pipeline_args=[])

    alone(model_uri=str(churn / "model"), examples_uri=str(churn / "examples"), eval_config=AUC_ABOVE_CHANCE)
    task = _task_folder(tmp_path, "evaluator")
    assert next((task / "blessing").rglob("BLESSED")).is_file()
    output = json.loads((task / "executor_output.json").read_text())
    assert output["parameterValues"]["Output"] is True


def test_push_alone_moves_latest_to_the_new_version(churn, churn_trained, tmp_path):
    op = push.build(IMAGE)
    fs.write_json(str(tmp_path / "blessing" / names.BLESSING_FILE), {names.META_BLESSED: True})

    @dsl.pipeline(name="push-alone")
    def alone(model_uri: str, blessing_uri: str, serving_root: str):
        model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model, reimport=False)
        blessing = dsl.importer(artifact_uri=blessing_uri, artifact_class=dsl.Artifact, reimport=False)
        op(model=model.output, blessing=blessing.output, serving_root=serving_root)

    alone(model_uri=str(churn / "model"), blessing_uri=str(tmp_path / "blessing"), serving_root=str(tmp_path / "serving"))
    latest = json.loads((tmp_path / "serving" / names.LATEST_POINTER).read_text())
    version = tmp_path / "serving" / latest["version"]
    assert (version / "saved_model.pb").is_file()
