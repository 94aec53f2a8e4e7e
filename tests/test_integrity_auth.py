"""Model integrity and access: push's manifest names every file's SHA-256 and the lineage; a
version whose files changed is refused by name (the served version stays); `kubetfx serve
--auth-token-file` answers 401 without the token and logs nothing of the refused request."""
import json
import time
import urllib.error
import urllib.request

import pytest

import contract_model
from kubetfx.components.common import integrity, names
from kubetfx.components.common.integrity import IntegrityError
from kubetfx.pipelines.recommender.serving import process
from kubetfx.pipelines.recommender.serving.loaded import LoadedModel
from kubetfx.pipelines.recommender.serving.watcher import LatestWatcher

CATALOGUE = [f"item-{i}" for i in range(8)]
TOKEN = "0123456789abcdef-test-token"
SALT = b"a-salt-for-tests-only-0123456789"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return contract_model.build(str(tmp_path_factory.mktemp("model") / "model"), CATALOGUE)


@pytest.fixture()
def pushed(model_dir, tmp_path):
    root = tmp_path / "serving"
    contract_model.push(model_dir, str(root), tmp_path, "1")
    return root


def _variables_file(version_dir):
    return next(path for path in (version_dir / "variables").iterdir() if path.name.startswith("variables.data"))


def test_push_writes_a_manifest_of_every_file_with_the_lineage(pushed, model_dir):
    manifest = json.loads((pushed / "1" / integrity.MANIFEST_FILE).read_text())
    files = {str(path.relative_to(pushed / "1")) for path in (pushed / "1").rglob("*") if path.is_file()}
    assert set(manifest["files"]) == files - {integrity.MANIFEST_FILE}
    assert "saved_model.pb" in manifest["files"] and all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert manifest["lineage"]["version"] == "1" and manifest["lineage"]["source_model_dir"] == model_dir
    assert manifest["lineage"]["blessing"]["blessed"] is True
    assert integrity.verify(str(pushed / "1")) == manifest


@pytest.mark.parametrize("tamper, named", [
    (lambda d: _variables_file(d).write_bytes(_variables_file(d).read_bytes() + b"x"), "variables/variables.data"),
    (lambda d: (d / "saved_model.pb").unlink(), "'saved_model.pb' is missing"),
    (lambda d: (d / "assets").mkdir(exist_ok=True) or (d / "assets" / "extra.txt").write_text("x"),
     "'assets/extra.txt' was added"),
])
def test_a_version_whose_files_changed_is_refused_naming_the_file(pushed, tamper, named):
    tamper(pushed / "1")
    with pytest.raises(IntegrityError, match=named):
        LoadedModel(str(pushed / "1"), "1")


def test_a_tampered_new_push_is_not_swapped_in_and_the_served_version_stays(pushed, model_dir, tmp_path):
    contract_model.push(model_dir, str(pushed), tmp_path, "2")
    (pushed / "2" / "saved_model.pb").write_bytes(b"not the model push wrote")
    swapped = []
    watcher = LatestWatcher(str(pushed), "1", swapped.append, poll_seconds=60)
    watcher.check_once()
    assert swapped == [] and watcher.serving_latest is False


def test_without_a_manifest_a_model_loads_unless_one_is_required(model_dir):
    assert LoadedModel(model_dir, "0").manifest is None  # versions pushed before manifests existed
    with pytest.raises(IntegrityError, match="has no MANIFEST.json, which is required"):
        integrity.verify(model_dir, require=True)


def test_kubetfx_serve_refuses_to_start_on_a_tampered_model_naming_the_file(pushed, tmp_path):
    (pushed / "1" / "saved_model.pb").write_bytes(b"changed")
    with pytest.raises(Exception, match="exited"):
        with process.running(["--serving-root", str(pushed)], str(tmp_path / "server.log"), timeout=60):
            pass
    assert "'saved_model.pb' changed" in (tmp_path / "server.log").read_text()


def _request(url: str, token: str | None, body: dict | None = None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, headers=headers,
                                     method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_serve_with_a_token_refuses_requests_without_it_and_logs_only_the_refusal(pushed, tmp_path):
    token_file, salt_file, log_root = tmp_path / "token", tmp_path / "salt", tmp_path / "requests"
    token_file.write_text(TOKEN + "\n")
    salt_file.write_bytes(SALT)
    args = ["--serving-root", str(pushed), "--auth-token-file", str(token_file), "--request-log-root", str(log_root),
            "--request-log-salt-file", str(salt_file), "--request-log-rotate-seconds", "0.2"]
    predict = f"/v1/models/{names.SERVING_MODEL_NAME}:predict"
    instance = {"instances": [{"user_id": "secret-user-42", "age": 3, "gender": "F", "occupation": "x"}]}
    with process.running(args, str(tmp_path / "server.log")) as url:
        for token in (None, "wrong-token-of-enough-length", TOKEN + "x"):
            status, answer = _request(url + predict, token, instance)
            assert status == 401 and "Authorization: Bearer" in answer["error"]
        assert _request(url + f"/v2/models/{names.SERVING_MODEL_NAME}", None)[0] == 401  # metadata too
        assert _request(url + f"/v2/models/{names.SERVING_MODEL_NAME}/ready", None)[0] == 200  # probes stay open
        time.sleep(0.6)  # past a rotation: a refused request would have been written by now
        assert not list(log_root.rglob("*.jsonl"))
        status, answer = _request(url + predict, TOKEN, instance)
        assert status == 200 and answer["predictions"][0]["items"][0] == CATALOGUE[3]
        deadline = time.monotonic() + 10
        while not list(log_root.rglob("*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.1)
        metrics_request = urllib.request.Request(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(metrics_request, timeout=10) as response:
            assert "kubetfx_auth_refused_total 4.0" in response.read().decode()
    records = [json.loads(line) for path in log_root.rglob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(records) == 1  # the authorised request only
    server_log = (tmp_path / "server.log").read_text()
    assert server_log.count("serve: refused") == 4 and "refused POST /v1/models/recommender:predict: no bearer token" in server_log
    assert TOKEN not in server_log and "secret-user-42" not in server_log


def test_a_short_token_file_is_refused(tmp_path):
    from kubetfx import cli

    (tmp_path / "token").write_text("short")
    with pytest.raises(SystemExit, match="at least 16"):
        cli.main(["serve", "--model-dir", str(tmp_path), "--auth-token-file", str(tmp_path / "token")])


def test_the_inference_service_mounts_the_token_secret_and_sets_the_canary_share(pushed, tmp_path):
    import yaml
    from google.cloud.aiplatform_v1.types import UploadModelRequest
    from test_push_executor import _off_schema

    from kubetfx.components.push import manifests

    deploy = manifests.DeployConfig(serving_image="img", require_token=True, canary_traffic_percent=10)
    paths = manifests.write(str(tmp_path / "pushed"), str(pushed / "1"), "1", deploy)
    service = yaml.safe_load(open(paths["inference_service"]).read())
    assert _off_schema(service, "V1beta1InferenceService") == []
    predictor = service["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert {"name": manifests.TOKEN_SECRET, "secret": {"secretName": manifests.TOKEN_SECRET}} in predictor["volumes"]
    container = predictor["containers"][0]
    assert container["args"][-2:] == ["--auth-token-file", manifests.TOKEN_SECRET_FILE]
    assert {"name": manifests.TOKEN_SECRET, "mountPath": manifests.TOKEN_SECRET_MOUNT, "readOnly": True} in container["volumeMounts"]
    vertex = UploadModelRequest.from_json(open(paths["vertex_upload_request"]).read())
    assert "--auth-token-file" not in vertex.model.container_spec.args  # Vertex AI endpoints use IAM
    with pytest.raises(ValueError, match="0 to 100"):
        manifests.DeployConfig(serving_image="img", canary_traffic_percent=150)
    plain = yaml.safe_load(open(manifests.write(str(tmp_path / "p2"), str(pushed / "1"), "1",
                                                manifests.DeployConfig(serving_image="img"))["inference_service"]).read())
    assert "canaryTrafficPercent" not in plain["spec"]["predictor"]


def _version_without_manifest(root, model_dir, version: str) -> None:
    """A version as push wrote them before manifests existed, and LATEST moved to it."""
    import shutil

    from kubetfx.components.common import serving

    shutil.copytree(model_dir, root / version)
    serving.replace_latest(str(root), {"version": version, "model_dir": version}, serving.current_version(str(root)))


def test_with_require_manifest_a_version_without_one_is_refused_and_the_served_one_stays(pushed, model_dir, caplog,
                                                                                         monkeypatch):
    from prometheus_client import REGISTRY

    from kubetfx.pipelines.recommender.serving import watcher as watcher_module

    # kubetfx's log does not propagate to the root logger once configured: catch it where it is.
    monkeypatch.setattr(watcher_module.LOG, "handlers", [caplog.handler])
    _version_without_manifest(pushed, model_dir, "2")
    refused_before = REGISTRY.get_sample_value("kubetfx_model_refusals_total") or 0.0
    swapped = []
    watcher = LatestWatcher(str(pushed), "1", swapped.append, poll_seconds=60, require_manifest=True)
    watcher.check_once()
    watcher.check_once()  # refused once, not again at every poll
    assert swapped == [] and watcher.serving_latest is False
    assert REGISTRY.get_sample_value("kubetfx_model_refusals_total") - refused_before == 1
    assert f"'{pushed / '2'}' has no MANIFEST.json" in caplog.text and "push the model again" in caplog.text
    assert "still serving 1" in caplog.text
    unrequired = []
    LatestWatcher(str(pushed), "1", unrequired.append, poll_seconds=60).check_once()
    assert [model.version for model in unrequired] == ["2"]  # without the option: served, unverified


def test_kubetfx_serve_and_recommend_with_require_manifest_refuse_a_model_without_one(model_dir, tmp_path, capsys):
    from kubetfx import cli

    assert cli.main(["serve", "--model-dir", model_dir, "--require-manifest"]) == 2
    error = capsys.readouterr().err
    assert f"the model at '{model_dir}' has no MANIFEST.json, which is required" in error and "push the model again" in error
    users = tmp_path / "users.txt"
    users.write_text("u1\n")
    out = tmp_path / "recommendations.parquet"
    assert cli.main(["recommend", "--model-dir", model_dir, "--users", str(users), "--out", str(out),
                     "--require-manifest"]) == 2
    assert "has no MANIFEST.json, which is required" in capsys.readouterr().err and not out.exists()


def test_the_manifests_push_writes_serve_only_a_verified_model_at_the_canary_share(pushed, tmp_path):
    import yaml
    from google.cloud.aiplatform_v1.types import UploadModelRequest

    from kubetfx.components.push import manifests

    paths = manifests.write(str(tmp_path / "pushed"), str(pushed / "1"), "1",
                            manifests.DeployConfig(serving_image="img", canary_traffic_percent=100))
    predictor = yaml.safe_load(open(paths["inference_service"]).read())["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 100 and "--require-manifest" in predictor["containers"][0]["args"]
    vertex = UploadModelRequest.from_json(open(paths["vertex_upload_request"]).read())
    assert "--require-manifest" in vertex.model.container_spec.args
    for percent in (True, 12.5, -1, 101):
        with pytest.raises(ValueError, match=r"canary_traffic_percent is .*a whole number from 0 to 100"):
            manifests.DeployConfig(serving_image="img", canary_traffic_percent=percent)
