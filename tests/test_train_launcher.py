"""The trainer's TFJob placement (launcher.py, tfjob.py): the TFJob it creates (checked against the
Training Operator's published CRD schema) and how it follows, reports and cleans up jobs (against
the kubernetes client's own objects, with the API calls faked)."""
import copy
import dataclasses
import json
import logging
import os
import pathlib
import re
import signal

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from kubetfx.components.common import names, timing
from kubetfx.components.common.errors import TrainingJobError
from kubetfx.components.train import launcher, tfjob
from kubetfx.components.train.args import TrainArgs
from kubetfx.config import Toleration, TrainingConfig

CONTRACTS = pathlib.Path(__file__).resolve().parent / "contracts"
TFJOB_CRD = CONTRACTS / "kubeflow-training-operator-v1.9.0" / "kubeflow.org_tfjobs.yaml"
NAMESPACE = "team-a"
IMAGE = "registry.example.com/team/kubetfx-gpu:1.0"
TRAINING = TrainingConfig(workers=4, gpu_count=2, gpu_type="nvidia-tesla-a100", cpu_limit="16", memory_request="32Gi",
                          node_selectors={"pool": "gpu"}, service_account="trainer",
                          tolerations=(Toleration.parse("nvidia.com/gpu:NoSchedule"), Toleration.parse("team=a:NoExecute")))
ARGS = TrainArgs("gs://b/run/transformed", "gs://b/run/graph", "gs://b/run/schema",
                  "kubetfx.pipelines.recommender.module", "gs://b/run/model", "gs://b/run/model_run",
                  "gs://b/run/report", 2400, 20, {"batch_size": 128}, {"k": "v"}, "gs://b/run/tuned",
                  "kubetfx.pipelines.recommender.contract:require_signatures")


@pytest.fixture(scope="module")
def tfjob_schema():
    crd = yaml.safe_load(TFJOB_CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == tfjob.VERSION]
    return _closed(version["schema"]["openAPIV3Schema"])


def _closed(schema):
    """The schema with unknown fields refused, as they would be silently pruned by the API server."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    open_ended = "additionalProperties" in closed or closed.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in closed and not open_ended:
        closed["additionalProperties"] = False
    return closed


def _validate(manifest: dict, schema: dict) -> None:
    import jsonschema

    jsonschema.validate(manifest, schema, cls=jsonschema.Draft7Validator)


@pytest.fixture(scope="module")
def manifest():
    return tfjob.manifest(tfjob.job_name(ARGS.model), NAMESPACE, IMAGE, ARGS, TRAINING)


def test_manifest_validates_against_the_training_operator_crd_schema(manifest, tfjob_schema):
    _validate(manifest, tfjob_schema)
    assert (manifest["apiVersion"], manifest["kind"]) == ("kubeflow.org/v1", "TFJob")


def test_the_schema_check_catches_misspelt_and_mistyped_fields(manifest, tfjob_schema):
    import jsonschema

    misspelt = copy.deepcopy(manifest)
    pod = misspelt["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]
    pod["nodeSelectors"] = pod.pop("nodeSelector")
    mistyped = copy.deepcopy(manifest)
    mistyped["spec"]["tfReplicaSpecs"]["Chief"]["replicas"] = "one"
    for broken in (misspelt, mistyped):
        with pytest.raises(jsonschema.ValidationError):
            _validate(broken, tfjob_schema)


def test_one_chief_and_the_other_workers_run_the_trainer_on_the_same_inputs(manifest, tfjob_schema):
    replicas = manifest["spec"]["tfReplicaSpecs"]
    assert {kind: spec["replicas"] for kind, spec in replicas.items()} == {"Chief": 1, "Worker": 3}
    restart_policies = re.search(r"One of (.*)\.", tfjob_schema["properties"]["spec"]["properties"]["tfReplicaSpecs"]
                                 ["additionalProperties"]["properties"]["restartPolicy"]["description"]).group(1)
    for spec in replicas.values():
        (container,) = spec["template"]["spec"]["containers"]
        assert (container["name"], container["image"]) == ("tensorflow", IMAGE)
        assert container["command"] == ["python3", "-m", "kubetfx.components.train.worker"]
        assert TrainArgs.parse(container["args"]) == ARGS, "every worker gets exactly the step's inputs"
        assert spec["restartPolicy"] in re.split(r",\s*|\s+and\s+", restart_policies)
    assert manifest["spec"]["runPolicy"]["backoffLimit"] == TRAINING.max_restarts


def test_pods_ask_for_the_gpus_nodes_and_tolerations_configured(manifest):
    pod = manifest["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "2"},
        "limits": {"cpu": "16", "memory": "32Gi", "nvidia.com/gpu": "2"},
    }
    assert pod["nodeSelector"] == {"pool": "gpu", "cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                                  {"key": "team", "operator": "Equal", "value": "a", "effect": "NoExecute"}]
    assert pod["serviceAccountName"] == "trainer"


def test_job_names_are_valid_kubernetes_names_and_follow_the_output():
    name = tfjob.job_name("gs://b/run/model")
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 40
    assert name == tfjob.job_name("gs://b/run/model") != tfjob.job_name("gs://b/other/model")


def test_workers_must_reach_every_artifact():
    local = dataclasses.replace(ARGS, model="/tmp/model", module_file="/home/me/module.py",
                                best_hyperparameters="/tmp/tuned", model_check="/home/me/check.py:check")
    with pytest.raises(TrainingJobError, match=r"these are not: \['/tmp/model', '/tmp/tuned', '/home/me/module.py', "
                                               r"'/home/me/check.py'\]"):
        launcher.check_reachable(local)
    launcher.check_reachable(ARGS)
    launcher.check_reachable(dataclasses.replace(ARGS, best_hyperparameters=""))


# --- following and cleaning up, with the kubernetes client's objects -----------------------------

def _condition(kind: str, reason: str, message: str = "") -> dict:
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z", "lastUpdateTime": "2026-01-01T00:00:00Z"}


CREATED = {"conditions": [_condition("Created", "TFJobCreated")]}
RUNNING = {"conditions": CREATED["conditions"] + [_condition("Running", "TFJobRunning")],
           "replicaStatuses": {"Chief": {"active": 1}, "Worker": {"active": 3}}}
SUCCEEDED = {"conditions": CREATED["conditions"] + [{**_condition("Running", "TFJobRunning"), "status": "False"},
                                                    _condition("Succeeded", "TFJobSucceeded")],
             "replicaStatuses": {"Chief": {"succeeded": 1}, "Worker": {"succeeded": 3}}}
FAILED = {"conditions": CREATED["conditions"] + [
    _condition("Failed", "TFJobFailed", "TFJob team-a/x has failed because 1 Worker replica(s) failed.")],
          "replicaStatuses": {"Chief": {"active": 1}, "Worker": {"active": 2, "failed": 1}}}


class FakeCustomObjects(client.CustomObjectsApi):
    """CustomObjectsApi whose calls are recorded and answered with TFJob dicts, as the API server does."""

    def __init__(self, statuses: list, create_error: int = 0, on_get=None, on_create=None):
        super().__init__(client.ApiClient())
        self.statuses, self.create_error, self.on_get, self.on_create = list(statuses), create_error, on_get, on_create
        self.calls, self.job = [], None

    def create_namespaced_custom_object(self, group, version, namespace, plural, body, **kwargs):
        self.calls.append(("create", group, version, namespace, plural, body["metadata"]["name"]))
        if self.create_error:
            raise ApiException(status=self.create_error, reason="Conflict" if self.create_error == 409 else "Forbidden")
        self.job = copy.deepcopy(body)
        if self.on_create:
            self.on_create(body)
        return self.job

    def get_namespaced_custom_object(self, group, version, namespace, plural, name, **kwargs):
        self.calls.append(("get", group, version, namespace, plural, name))
        if self.on_get:
            self.on_get(len([c for c in self.calls if c[0] == "get"]))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": name, "namespace": namespace},
                "spec": (self.job or {}).get("spec", {}), "status": status}

    def delete_namespaced_custom_object(self, group, version, namespace, plural, name, body=None, **kwargs):
        self.calls.append(("delete", group, version, namespace, plural, name, body.propagation_policy))
        if self.job is None:
            raise ApiException(status=404, reason="Not Found")
        return {"kind": "Status", "status": "Success"}


class FakeCore(client.CoreV1Api):
    """CoreV1Api with the job's pods and their logs."""

    def __init__(self):
        super().__init__(client.ApiClient())
        self.calls = []

    def list_namespaced_pod(self, namespace, **kwargs):
        self.calls.append(("list", namespace, kwargs["label_selector"]))
        return client.V1PodList(items=[
            client.V1Pod(metadata=client.V1ObjectMeta(name=f"x-{kind}-0"), status=client.V1PodStatus(phase=phase))
            for kind, phase in (("chief", "Running"), ("worker", "Failed"))])

    def read_namespaced_pod_log(self, name, namespace, **kwargs):
        self.calls.append(("log", name, namespace, kwargs["container"], kwargs["tail_lines"]))
        return f"Traceback (most recent call last):\nValueError: boom in {name}"


@pytest.fixture
def log_lines():
    """What the launcher logs (the step's log in KFP)."""
    timing.configure_logging()
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    timing.LOG.addHandler(handler)
    yield lines
    timing.LOG.removeHandler(handler)


def _job(name: str = "x") -> dict:
    return tfjob.manifest(name, NAMESPACE, IMAGE, ARGS, TRAINING)


def _apis(custom) -> launcher.KubernetesApis:
    return launcher.KubernetesApis(custom=custom, core=FakeCore())


def test_a_job_is_created_followed_to_success_and_deleted(log_lines):
    custom = FakeCustomObjects([CREATED, RUNNING, RUNNING, SUCCEEDED])
    final = launcher.run(_job(), _apis(custom), poll_seconds=0)
    api = ("kubeflow.org", "v1", NAMESPACE, "tfjobs", "x")
    assert custom.calls == [("create", *api)] + [("get", *api)] * 4 + [("delete", *api, "Background")]
    assert final["status"] == SUCCEEDED
    states = [line for line in log_lines if line.startswith("[train] TFJob x:")]
    assert states == ["[train] TFJob x: Created (TFJobCreated)",
                      "[train] TFJob x: Running (TFJobRunning) [Chief: 1 active; Worker: 3 active]",
                      "[train] TFJob x: Succeeded (TFJobSucceeded) [Chief: 1 succeeded; Worker: 3 succeeded]"], \
        "each change of state is logged once"


def test_a_failed_job_fails_the_step_with_the_failed_pods_log_and_is_deleted(log_lines):
    custom, core = FakeCustomObjects([RUNNING, FAILED]), FakeCore()
    with pytest.raises(TrainingJobError, match="TFJob team-a/x failed: .*1 Worker replica"):
        launcher.run(_job(), launcher.KubernetesApis(custom, core), poll_seconds=0)
    assert custom.calls[-1][0] == "delete"
    assert core.calls[0] == ("list", NAMESPACE, "training.kubeflow.org/job-name=x")
    assert ("log", "x-worker-0", NAMESPACE, "tensorflow", launcher.LOG_TAIL_LINES) in core.calls
    assert any("ValueError: boom in x-worker-0" in line for line in log_lines)


def test_an_existing_job_of_the_same_name_is_followed_not_duplicated(log_lines):
    custom = FakeCustomObjects([SUCCEEDED], create_error=409)
    custom.job = _job()
    launcher.run(_job(), _apis(custom), poll_seconds=0)
    assert [call[0] for call in custom.calls] == ["create", "get", "delete"]
    assert any("exists already: following it" in line for line in log_lines)


def test_a_refused_job_fails_the_step_and_leaves_nothing_behind():
    custom = FakeCustomObjects([RUNNING], create_error=403)
    with pytest.raises(TrainingJobError, match="cannot create TFJob team-a/x: 403 Forbidden"):
        launcher.run(_job(), _apis(custom), poll_seconds=0)
    assert [call[0] for call in custom.calls] == ["create", "delete"], "deleting a job never made is harmless"


def test_sigterm_while_following_deletes_the_job():
    def cancel_on_third_poll(polls):
        if polls == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    custom = FakeCustomObjects([RUNNING], on_get=cancel_on_third_poll)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(launcher.Cancelled):
        launcher.run(_job(), _apis(custom), poll_seconds=0)
    assert [call[0] for call in custom.calls] == ["create", "get", "get", "get", "delete"]
    assert signal.getsignal(signal.SIGTERM) is before, "the step's own SIGTERM handling is restored"


def test_launch_passes_uris_to_the_workers_and_returns_the_chiefs_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(launcher, "SHARED_SCHEMES", (str(tmp_path),))  # a local folder stands in for a bucket
    uris = {field: str(tmp_path / field) for field in ("transformed_examples", "transform_graph", "schema",
                                                      "model", "model_run", "report", "best_hyperparameters")}
    args = dataclasses.replace(ARGS, **uris)
    created = []

    def chief_writes_figures(job):
        created.append(job)
        container = job["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]["containers"][0]
        figures = container["args"][container["args"].index("--figures") + 1]
        pathlib.Path(figures).parent.mkdir(parents=True)
        pathlib.Path(figures).write_text(json.dumps({"chief": True, "metrics": {"validation_loss": 4.2}}))

    custom = FakeCustomObjects([SUCCEEDED], on_create=chief_writes_figures)
    figures = launcher.launch(args, IMAGE, TRAINING, NAMESPACE, _apis(custom), poll_seconds=0)
    assert figures == {"chief": True, "metrics": {"validation_loss": 4.2}}
    assert created[0]["metadata"] == {"name": tfjob.job_name(args.model), "namespace": NAMESPACE,
                                      "labels": {"app.kubernetes.io/managed-by": "kubetfx"}}
    container = created[0]["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    assert container["args"][container["args"].index("--figures") + 1] == str(tmp_path / "model_run" / names.TRAIN_FIGURES_FILE)
