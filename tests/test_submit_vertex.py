"""`kubetfx submit --target vertex`: the `google.cloud.aiplatform.PipelineJob` request, built from the compiled
spec without contacting Google Cloud (the Vertex AI API client's calls are replaced, and any connection
beyond loopback fails the test)."""
import datetime

import pytest
import yaml

from kfp_contract import refuse_non_loopback
from kubetfx import cli, submit
from kubetfx.components.common.errors import SubmitError

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
PARAMETERS = {"interactions_uri": "gs://data/interactions.csv", "serving_root": "gs://models/recommender",
              "train_steps": "100", "top_k": "[5, 10]"}
SERVICE_ACCOUNT = "runner@test-project.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    """The Vertex AI spec `kubetfx compile` writes; the Kubeflow one where it writes none."""
    out = tmp_path_factory.mktemp("compiled")
    assert cli.main(["compile", "--out", str(out)]) == 0
    vertex = out / cli.VERTEX_COMPILED_FILE
    return vertex if vertex.exists() else out / cli.COMPILED_FILE


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    refuse_non_loopback(monkeypatch)


def _config(**overrides) -> submit.VertexConfig:
    from google.auth.credentials import AnonymousCredentials

    values = dict(project="test-project", region="us-central1", labels={"team": "recs"},
                  credentials=AnonymousCredentials())
    return submit.VertexConfig(**{**values, **overrides})


def _run(spec, **overrides) -> submit.RunConfig:
    values = dict(spec_path=str(spec), parameters=PARAMETERS, pipeline_root="gs://artifacts/root",
                  service_account=SERVICE_ACCOUNT, poll_s=0)
    return submit.RunConfig(**{**values, **overrides})


def _job(run, config):
    return submit.vertex_job(run, config, submit.prepare(run, "abc1234", NOW, submit.VERTEX_CRON_FIELDS))


def _caching(pipeline_spec: dict) -> dict:
    tasks = dict(pipeline_spec["root"]["dag"]["tasks"])
    for component in pipeline_spec["components"].values():
        tasks.update(component.get("dag", {}).get("tasks", {}))
    return {name: task.get("cachingOptions", {}).get("enableCache", False) for name, task in tasks.items()
            if "cachingOptions" in task}


def test_the_pipeline_job_carries_the_run_configuration(spec):
    from google.protobuf import json_format

    job = _job(_run(spec), _config())
    request = job._gca_resource
    assert request.display_name.startswith("kubetfx-recommender 0.1.0-abc1234-")
    assert job.job_id == "kubetfx-recommender-20260102-030405"
    assert request.runtime_config.gcs_output_directory == "gs://artifacts/root"
    assert dict(request.runtime_config.parameter_values) == {
        "interactions_uri": "gs://data/interactions.csv", "serving_root": "gs://models/recommender",
        "train_steps": 100, "top_k": [5, 10]}
    assert dict(request.labels) == {"team": "recs"}
    pipeline_spec = json_format.MessageToDict(request._pb.pipeline_spec)
    assert pipeline_spec["pipelineInfo"]["name"] == "kubetfx-recommender"
    compiled = _caching(yaml.safe_load(spec.read_text()))
    assert _caching(pipeline_spec) == compiled  # caching as compiled: evaluate and push never cached
    assert compiled["ingest"] and not compiled["evaluate"]


def test_no_cache_turns_caching_off_for_every_step(spec):
    from google.protobuf import json_format

    job = _job(_run(spec), _config(enable_caching=False))
    caching = _caching(json_format.MessageToDict(job._gca_resource._pb.pipeline_spec))
    assert caching and not any(caching.values())


@pytest.fixture
def vertex_api(monkeypatch):
    """The Vertex AI calls, recorded: create answers with the job; reads report `states` in turn."""
    from google.cloud.aiplatform.utils import gcs_utils
    from google.cloud.aiplatform_v1.services.pipeline_service import PipelineServiceClient
    from google.cloud.aiplatform_v1.types import pipeline_job, pipeline_state

    calls = {"created": [], "buckets": [], "states": ["PIPELINE_STATE_RUNNING", "PIPELINE_STATE_SUCCEEDED"]}

    def create_pipeline_job(_, parent, pipeline_job, pipeline_job_id, timeout=None):
        calls["created"].append((parent, pipeline_job, pipeline_job_id))
        created = type(pipeline_job).deserialize(type(pipeline_job).serialize(pipeline_job))
        created.name = f"{parent}/pipelineJobs/{pipeline_job_id}"
        return created

    def get_pipeline_job(_, name, **__):
        state = calls["states"].pop(0) if len(calls["states"]) > 1 else calls["states"][0]
        return pipeline_job.PipelineJob(name=name, state=pipeline_state.PipelineState[state])

    monkeypatch.setattr(PipelineServiceClient, "create_pipeline_job", create_pipeline_job)
    monkeypatch.setattr(PipelineServiceClient, "get_pipeline_job", get_pipeline_job)
    monkeypatch.setattr(gcs_utils, "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist",
                        lambda **kwargs: calls["buckets"].append(kwargs))
    return calls


def test_submit_sends_the_job_with_its_service_account_and_prints_the_console_url(spec, vertex_api, capsys):
    assert submit.submit_vertex(_run(spec), _config(), "abc1234", NOW, storage_client=_no_storage) == 0
    ((parent, request, job_id),) = vertex_api["created"]
    assert parent == "projects/test-project/locations/us-central1"
    assert (request.service_account, job_id) == (SERVICE_ACCOUNT, "kubetfx-recommender-20260102-030405")
    assert request.runtime_config.gcs_output_directory == "gs://artifacts/root"
    url = f"{submit.VERTEX_CONSOLE}/locations/us-central1/pipelines/runs/{job_id}?project=test-project"
    assert f"run: {url}" in capsys.readouterr().out


@pytest.mark.parametrize("last_state, code", [("PIPELINE_STATE_SUCCEEDED", 0), ("PIPELINE_STATE_FAILED", 1)])
def test_wait_follows_the_job_to_its_end(spec, vertex_api, last_state, code, capsys):
    vertex_api["states"] = ["PIPELINE_STATE_RUNNING", last_state]
    assert submit.submit_vertex(_run(spec, wait=True), _config(), "abc1234", NOW, storage_client=_no_storage) == code
    assert capsys.readouterr().out.splitlines()[-2:] == ["state: RUNNING", f"state: {last_state[15:]}"]


def test_a_schedule_creates_a_vertex_schedule(spec, monkeypatch, capsys):
    from google.cloud import aiplatform

    scheduled = []

    def create_schedule(job, **arguments):
        scheduled.append(arguments)
        return type("Schedule", (), {"resource_name": "projects/test-project/locations/us-central1/schedules/1"})

    monkeypatch.setattr(aiplatform.PipelineJob, "create_schedule", create_schedule)
    run = _run(spec, schedule="TZ=Europe/Paris 0 3 * * *")
    assert submit.submit_vertex(run, _config(), "abc1234", NOW, storage_client=_no_storage) == 0
    ((arguments),) = scheduled
    assert (arguments["cron"], arguments["service_account"]) == ("TZ=Europe/Paris 0 3 * * *", SERVICE_ACCOUNT)
    assert "schedules/1" in capsys.readouterr().out


@pytest.mark.parametrize("run_overrides, config_overrides, message", [
    ({"pipeline_root": "minio://mlpipeline/root"}, {}, "gs:// pipeline root"),
    ({"pipeline_root": ""}, {}, "gs:// pipeline root"),
    ({}, {"project": ""}, "--project"),
    ({}, {"region": ""}, "--region"),
    ({}, {"labels": {"Team": "recs"}}, "label Team=recs"),
    ({"schedule": "0 0 3 * * *"}, {}, "reads 5"),
    ({"parameters": {"serving_root": "gs://m/r"}}, {}, "interactions_uri"),
])
def test_bad_configuration_is_refused_before_any_job_is_built(spec, monkeypatch, run_overrides, config_overrides,
                                                              message):
    from google.cloud import aiplatform

    monkeypatch.setattr(aiplatform, "PipelineJob", None)  # building one would fail differently
    with pytest.raises(SubmitError, match=message):
        submit.submit_vertex(_run(spec, **run_overrides), _config(**config_overrides), "abc1234", NOW,
                             storage_client=_no_storage)


def test_the_cli_refuses_a_local_pipeline_root_for_vertex(spec, capsys):
    assert cli.main(["submit", "--target", "vertex", "--spec", str(spec), "--project", "p", "--region", "us-central1",
                     "--pipeline-root", "build/root", "--interactions", "gs://d/i.csv", "--serving-root", "gs://m/r"]) == 2
    assert "gs:// pipeline root" in capsys.readouterr().err


def _no_storage():
    raise AssertionError("nothing here is to be uploaded to storage")


def test_no_google_credentials_is_one_message_saying_how_to_log_in(spec, vertex_api, monkeypatch, tmp_path, capsys):
    """No Application Default Credentials (here: the key file the environment names is absent, which
    google-auth finds out without the network): what failed and the two ways to fix it, no traceback."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent-key.json"))
    with pytest.raises(SubmitError) as raised:
        submit.submit_vertex(_run(spec), _config(credentials=None), "abc1234", NOW, storage_client=_no_storage)
    message = str(raised.value)
    assert "Vertex AI" in message and "test-project" in message and "absent-key.json" in message
    assert "gcloud auth application-default login" in message and "GOOGLE_APPLICATION_CREDENTIALS" in message
    assert vertex_api["created"] == []  # nothing was sent
    assert cli.main(["submit", "--target", "vertex", "--spec", str(spec), "--project", "test-project",
                     "--region", "us-central1", "--pipeline-root", "gs://a/r", "--interactions", "gs://d/i.csv",
                     "--serving-root", "gs://m/r"]) == 2
    err = capsys.readouterr().err
    assert "gcloud auth application-default login" in err and "Traceback" not in err
