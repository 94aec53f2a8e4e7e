"""`kubetfx submit` to Kubeflow Pipelines, against a loopback stand-in that holds every request to the
published v2beta1 API schema (tests/kfp_contract.py)."""
import hashlib
import json
import socket

import pytest

from kfp_contract import Contract, FakeKfp, refuse_non_loopback
from kubetfx import cli
from kubetfx.commands import submit as submit_command
from kubetfx.version import __version__

PIPELINE = "kubetfx-recommender"
DATA = ["--interactions", "gs://data/interactions.csv", "--serving-root", "gs://models/recommender"]


@pytest.fixture(scope="module")
def contract():
    return Contract()


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    assert cli.main(["compile", "--out", str(out)]) == 0
    return out / cli.COMPILED_FILE


@pytest.fixture(autouse=True)
def hermetic(monkeypatch):
    refuse_non_loopback(monkeypatch)
    for variable in cli.SUBMIT_ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(submit_command, "_git_revision", lambda: "abc1234")
    monkeypatch.setattr(submit_command, "_storage_client", _no_storage)


def _no_storage(*_):
    raise AssertionError("nothing here is to be uploaded to storage")


@pytest.fixture
def fake(contract):
    with FakeKfp(contract) as server:
        yield server
        assert server.violations == []


def _submit(fake, spec, *flags) -> int:
    return cli.main(["submit", "--host", fake.url, "--spec", str(spec), *flags])


def test_first_submission_uploads_the_spec_and_starts_a_run(fake, spec, capsys):
    assert _submit(fake, spec, *DATA, "--pipeline-root", "gs://artifacts/root", "--train-steps", "100",
                   "--param", "top_k=[5, 10]", "--param", "eval_fraction=0.2", "--param", "split_method=time") == 0

    assert fake.operations() == ["PipelineService_ListPipelines", "UploadPipeline",
                                 "PipelineService_ListPipelineVersions", "RunService_CreateRun"]
    (version,) = fake.versions.values()
    assert version["package"] == spec.read_bytes()
    run = fake.requests[-1].json()
    assert run["pipeline_version_reference"] == {"pipeline_id": version["pipeline_id"],
                                                 "pipeline_version_id": version["pipeline_version_id"]}
    assert run["runtime_config"] == {"pipeline_root": "gs://artifacts/root", "parameters": {
        "interactions_uri": "gs://data/interactions.csv", "serving_root": "gs://models/recommender",
        "train_steps": 100, "top_k": [5, 10], "eval_fraction": 0.2, "split_method": "time"}}
    (run_id,) = fake.runs
    assert f"run: {fake.url}/#/runs/details/{run_id}" in capsys.readouterr().out


def test_an_existing_pipeline_gets_a_version_named_from_package_version_and_revision(fake, spec):
    pipeline_id = fake.add_pipeline(PIPELINE)
    expected = f"{__version__}-abc1234-{hashlib.sha256(spec.read_bytes()).hexdigest()[:8]}"

    assert _submit(fake, spec, *DATA) == 0
    assert "UploadPipeline" not in fake.operations()
    upload = next(r for r in fake.requests if r.operation == "UploadPipelineVersion")
    assert upload.query["name"] == [expected] and upload.query["pipelineid"] == [pipeline_id]
    (version_id,) = [v["pipeline_version_id"] for v in fake.versions.values() if v["name"] == expected]

    assert _submit(fake, spec, *DATA) == 0  # the same spec again: the version is there already
    assert fake.operations().count("UploadPipelineVersion") == 1
    assert [r["pipeline_version_reference"]["pipeline_version_id"] for r in fake.runs.values()] == [version_id] * 2


def test_an_experiment_is_created_once_and_runs_go_into_it(fake, spec):
    for _ in range(2):
        assert _submit(fake, spec, *DATA, "--experiment", "nightly") == 0
    assert fake.operations().count("ExperimentService_CreateExperiment") == 1
    (experiment,) = fake.experiments.values()
    assert experiment["display_name"] == "nightly"
    assert {run["experiment_id"] for run in fake.runs.values()} == {experiment["experiment_id"]}


def test_a_multi_user_namespace_scopes_the_pipeline_and_the_experiment(fake, spec):
    assert _submit(fake, spec, *DATA, "--namespace", "team-a") == 0
    by_operation = {r.operation: r for r in fake.requests}
    assert by_operation["PipelineService_ListPipelines"].query["namespace"] == ["team-a"]
    assert by_operation["UploadPipeline"].query["namespace"] == ["team-a"]
    (experiment,) = fake.experiments.values()  # a multi-user run needs an experiment in its namespace
    assert (experiment["display_name"], experiment["namespace"]) == ("Default", "team-a")
    assert next(iter(fake.runs.values()))["experiment_id"] == experiment["experiment_id"]


def test_host_and_token_come_from_the_environment_and_go_with_every_request(contract, spec, monkeypatch):
    with FakeKfp(contract, token="s3cret") as fake:
        monkeypatch.setenv("KFP_HOST", fake.url)
        monkeypatch.setenv("KFP_TOKEN", "s3cret")
        assert cli.main(["submit", "--spec", str(spec), *DATA]) == 0
    assert len(fake.requests) == 4 and fake.violations == []
    assert {r.headers["authorization"] for r in fake.requests} == {"Bearer s3cret"}


def test_the_in_cluster_service_account_token_is_read_from_its_file(contract, spec, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("projected-token\n")
    with FakeKfp(contract, token="projected-token") as fake:
        assert _submit(fake, spec, *DATA, "--in-cluster-token", "--token-path", str(token_file)) == 0
    assert {r.headers["authorization"] for r in fake.requests} == {"Bearer projected-token"}


def test_refused_credentials_stop_the_submission_before_anything_is_uploaded(contract, spec, tmp_path, capsys):
    local_file = tmp_path / "interactions.csv"
    local_file.write_text("user_id,item_id\n1,2\n")
    with FakeKfp(contract, token="s3cret") as fake:
        assert _submit(fake, spec, "--interactions", str(local_file), "--serving-root", "gs://models/r",
                       "--pipeline-root", "gs://artifacts/root") == 2
    assert fake.operations() == ["PipelineService_ListPipelines"]
    error = capsys.readouterr().err
    assert "HTTP 401" in error and "--token" in error


def test_a_recurring_run_follows_a_cron_schedule(fake, spec, capsys):
    assert _submit(fake, spec, *DATA, "--schedule", "0 0 3 * * *") == 0
    assert "RunService_CreateRun" not in fake.operations()
    (recurring,) = fake.recurring_runs.values()
    assert recurring["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * *"}}
    assert (recurring["mode"], recurring["max_concurrency"], recurring["no_catchup"]) == ("ENABLE", "1", True)
    assert f"#/recurringrun/details/{recurring['recurring_run_id']}" in capsys.readouterr().out


@pytest.mark.parametrize("states, code", [(["PENDING", "RUNNING", "SUCCEEDED"], 0), (["RUNNING", "FAILED"], 1)])
def test_wait_follows_the_run_and_exits_non_zero_when_it_fails(contract, spec, states, code, capsys):
    with FakeKfp(contract, run_states=states) as fake:
        assert _submit(fake, spec, *DATA, "--wait", "--poll-seconds", "0") == code
    assert fake.violations == []
    assert fake.operations().count("RunService_GetRun") == len(states)
    assert capsys.readouterr().out.splitlines()[-len(states):] == [f"state: {state}" for state in states]


@pytest.mark.parametrize("flags, message", [
    (["--serving-root", "gs://models/r"], "interactions_uri"),
    ([*DATA, "--param", "colour=red"], "no parameter colour"),
    ([*DATA, "--train-steps", "many"], "NUMBER_INTEGER"),
    ([*DATA, "--param", "top_k=10"], "LIST"),
    ([*DATA, "--schedule", "0 3 * * *"], "reads 6"),
    ([*DATA, "--schedule", "0 0 3 * * *", "--wait"], "--wait"),
    (["--interactions", __file__, "--serving-root", "gs://models/r"], "--pipeline-root gs://"),
    ([*DATA, "--param", "request_log_root=gs://logs/r"], "request_log_salt_uri is empty"),
    ([*DATA, "--param", "canary_traffic_percent=150"], "canary_traffic_percent is 150; it is KServe's canaryTrafficPercent"),
    ([*DATA, "--param", "canary_traffic_percent=12.5"], "a whole number from 0 to 100"),
    ([*DATA, "--param", "max_unknown_user_share=-0.1"], "max_unknown_user_share is -0.1; it is a share"),
])
def test_bad_configuration_is_reported_before_any_request(fake, spec, flags, message, capsys):
    assert _submit(fake, spec, *flags) == 2
    assert fake.requests == []
    assert message in capsys.readouterr().err


def test_no_host_is_reported(spec, capsys):
    assert cli.main(["submit", "--spec", str(spec), *DATA]) == 2
    assert "KFP_HOST" in capsys.readouterr().err


def test_an_unreachable_host_is_reported_before_anything_is_uploaded(spec, tmp_path, capsys):
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    local_file = tmp_path / "interactions.csv"
    local_file.write_text("user_id,item_id\n1,2\n")
    assert cli.main(["submit", "--host", f"http://127.0.0.1:{port}", "--spec", str(spec), "--interactions",
                     str(local_file), "--serving-root", "gs://m/r", "--pipeline-root", "gs://a/root"]) == 2
    assert f"cannot reach Kubeflow Pipelines at http://127.0.0.1:{port}" in capsys.readouterr().err


def test_a_missing_spec_says_to_compile(fake, tmp_path, capsys):
    assert _submit(fake, tmp_path / "nothing.yaml", *DATA) == 2
    assert "make compile" in capsys.readouterr().err


def test_the_stand_in_refuses_what_the_schema_does_not_allow(fake):
    """The checks above mean something only if the stand-in refuses requests outside the contract."""
    import urllib.request

    def send(method, path, body=None, content_type="application/json"):
        request = urllib.request.Request(fake.url + path, method=method, data=body,
                                         headers={"Content-Type": content_type})
        try:
            urllib.request.urlopen(request)
        except urllib.error.HTTPError as error:
            return error.code
        return 200

    run = {"display_name": "r", "pipeline_version_reference": {"pipeline_id": "p"}, "runtime_config": {}}
    refused = [
        send("GET", "/apis/v2beta1/healthz"),  # not in the contracts laid out for the tests
        send("GET", "/apis/v2beta1/pipelines?colour=red"),
        send("GET", "/apis/v2beta1/pipelines?page_size=ten"),
        send("POST", "/apis/v2beta1/runs", json.dumps({**run, "pipelineRoot": "gs://x"}).encode()),
        send("POST", "/apis/v2beta1/runs", json.dumps({**run, "display_name": 7}).encode()),
        send("POST", "/apis/v2beta1/recurringruns", json.dumps({"mode": "ON"}).encode()),
        send("POST", "/apis/v2beta1/pipelines/upload?name=x", b"{}"),
        send("DELETE", "/apis/v2beta1/experiments"),
    ]
    assert refused == [400] * len(refused)
    assert len(fake.violations) == len(refused)
    fake.violations.clear()
    assert send("POST", "/apis/v2beta1/runs", json.dumps(run).encode()) == 200
