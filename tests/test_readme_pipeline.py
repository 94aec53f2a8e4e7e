"""The user pipeline README.md shows (issue 11: about 30 lines from the generic components), taken from
the README itself: it runs under kfp.local from a CSV to a pushed model, and compiles into a spec that
Kubeflow's SDK loads and from which a Vertex AI PipelineJob is built (without contacting Google Cloud)."""
import datetime
import importlib.util
import json
import pathlib
import re
import warnings

import pytest

from kfp_contract import refuse_non_loopback
from tfx_style_data import MODULE_FILE, TRAIN_STEPS

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
FIRST_LINE = "# churn_pipeline.py"
IMAGE = "registry.example.com/team/kubetfx@sha256:" + "a" * 64
EVAL_CONFIG = json.dumps({
    "model_specs": [{"signature_name": "serving_default", "label_key": "churned", "prediction_key": "probabilities"}],
    "slicing_specs": [{}, {"feature_keys": ["plan"]}],
    "metrics_specs": [{"metrics": [{"class_name": "AUC", "threshold": {"value_threshold": {"lower_bound": 0.6}}}]}],
})


@pytest.fixture(scope="module")
def user_pipeline(tmp_path_factory):
    """The README's code block, saved as the user would save it and imported."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (source,) = [block for block in blocks if block.startswith(FIRST_LINE)]
    path = tmp_path_factory.mktemp("user") / "churn_pipeline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("churn_pipeline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, source


def test_the_readme_pipeline_is_about_thirty_lines(user_pipeline):
    _, source = user_pipeline
    code = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 40, f"the README's pipeline has grown to {len(code)} lines of code"


def test_it_runs_under_kfp_local_and_pushes_a_blessed_model(user_pipeline, churn, tmp_path):
    from kfp import local

    module, _ = user_pipeline
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    serving_root = tmp_path / "serving"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")  # the steps run in this environment
        module.create_pipeline("kubetfx")(data_uri=str(churn / "churn.csv"), module_file=MODULE_FILE,
                                          eval_config=EVAL_CONFIG, serving_root=str(serving_root),
                                          train_steps=TRAIN_STEPS)

    (run,) = (tmp_path / "root").iterdir()
    assert {path.name for path in run.iterdir() if path.is_dir()} >= {
        "example-gen", "statistics-gen", "schema-gen", "example-validator", "transform", "train", "latest-blessed",
        "evaluator", "push"}
    latest = json.loads((serving_root / "LATEST").read_text())
    assert (serving_root / latest["version"] / "saved_model.pb").is_file()


def test_it_compiles_for_kubeflow_and_vertex(user_pipeline, tmp_path, monkeypatch):
    from google.auth.credentials import AnonymousCredentials
    from google.protobuf import json_format
    from kfp import compiler, components

    from kubetfx import submit

    refuse_non_loopback(monkeypatch)
    module, _ = user_pipeline
    target = tmp_path / "churn.yaml"
    compiler.Compiler().compile(module.create_pipeline(IMAGE), str(target))
    loaded = components.load_component_from_file(str(target))  # Kubeflow's own SDK reads the spec back
    assert set(loaded.component_spec.inputs) == {"data_uri", "module_file", "eval_config", "serving_root",
                                                 "train_steps"}

    run = submit.RunConfig(spec_path=str(target), pipeline_root="gs://artifacts/root", poll_s=0, parameters={
        "data_uri": "gs://data/churn.csv", "module_file": "gs://code/module.py", "eval_config": EVAL_CONFIG,
        "serving_root": "gs://models/churn"})
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    config = submit.VertexConfig(project="test-project", region="us-central1", credentials=AnonymousCredentials())
    job = submit.vertex_job(run, config, submit.prepare(run, "abc1234", now, submit.VERTEX_CRON_FIELDS))
    request = job._gca_resource
    assert request.runtime_config.parameter_values["serving_root"] == "gs://models/churn"
    executors = json_format.MessageToDict(request._pb.pipeline_spec)["deploymentSpec"]["executors"]
    assert {executor["container"]["image"] for executor in executors.values()} == {IMAGE}
