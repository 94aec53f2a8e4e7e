"""Local files a run reads go to the pipeline root before the run starts: the real google-cloud-storage
client against gcp-storage-emulator on loopback, and the stand-in KFP API server (tests/kfp_contract.py)."""
import hashlib
import socket

import pytest

from kfp_contract import Contract, FakeKfp, refuse_non_loopback
from kubetfx import cli, submit

BUCKET = "kubetfx-test"
ROOT = f"gs://{BUCKET}/root"


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    assert cli.main(["compile", "--out", str(out)]) == 0
    return out / cli.COMPILED_FILE


@pytest.fixture
def storage_client(monkeypatch):
    """A client of an in-memory emulator on 127.0.0.1, with the bucket made; STORAGE_EMULATOR_HOST points at it,
    so that clients the CLI makes (anonymous, as google-cloud-storage makes them for an emulator) reach it too."""
    from gcp_storage_emulator.server import create_server
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    refuse_non_loopback(monkeypatch)
    for variable in cli.SUBMIT_ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    client.create_bucket(BUCKET)
    yield client
    server.stop()


@pytest.fixture
def fake():
    with FakeKfp(Contract()) as server:
        yield server
        assert server.violations == []


@pytest.fixture
def local_files(tmp_path):
    interactions = tmp_path / "interactions.csv"
    interactions.write_text("user_id,item_id,rating\n1,10,5\n2,10,3\n")
    module = tmp_path / "my_module.py"
    module.write_text("def preprocessing_fn(inputs):\n    return inputs\n")
    return interactions, module


def _uri(path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"{ROOT}/{submit.INPUTS_FOLDER}/{digest}/{path.name}"


def test_local_files_are_uploaded_and_the_run_reads_them_from_the_pipeline_root(storage_client, fake, spec,
                                                                                local_files):
    interactions, module = local_files
    assert cli.main(["submit", "--host", fake.url, "--spec", str(spec), "--pipeline-root", ROOT,
                     "--interactions", str(interactions), "--module-file", str(module),
                     "--serving-root", f"gs://{BUCKET}/serving"]) == 0

    parameters = next(iter(fake.runs.values()))["runtime_config"]["parameters"]
    assert parameters == {"interactions_uri": _uri(interactions), "module_file": _uri(module),
                          "serving_root": f"gs://{BUCKET}/serving"}
    for path in local_files:
        blob_name = _uri(path).removeprefix(f"gs://{BUCKET}/")
        assert storage_client.bucket(BUCKET).blob(blob_name).download_as_bytes() == path.read_bytes()


def test_resubmitting_the_same_files_reuses_their_upload(storage_client, fake, spec, local_files):
    interactions, _ = local_files
    blob = storage_client.bucket(BUCKET).blob(_uri(interactions).removeprefix(f"gs://{BUCKET}/"))
    generations = []
    for _ in range(2):
        assert cli.main(["submit", "--host", fake.url, "--spec", str(spec), "--pipeline-root", ROOT,
                         "--interactions", str(interactions), "--serving-root", "gs://m/r"]) == 0
        blob.reload()
        generations.append(blob.generation)
    assert generations[0] == generations[1]
    assert len({run["runtime_config"]["parameters"]["interactions_uri"] for run in fake.runs.values()}) == 1


def test_only_string_parameters_naming_local_files_are_uploaded(spec, local_files):
    interactions, _ = local_files
    loaded = submit.Spec.load(str(spec))
    parameters = {"interactions_uri": str(interactions), "serving_root": "gs://m/r",
                  "module_file": "kubetfx.pipelines.recommender.module", "users_uri": "", "train_steps": 5}
    (upload,) = submit.plan_uploads(loaded, parameters, ROOT + "/")
    assert (upload.parameter, upload.local_path, upload.uri) == ("interactions_uri", str(interactions), _uri(interactions))
    assert submit.plan_uploads(loaded, {**parameters, "interactions_uri": "gs://d/i.csv"}, "") == []
