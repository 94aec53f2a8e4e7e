"""Strategy selection from the environment: TF_CONFIG (Training Operator), CLUSTER_SPEC (Vertex AI)."""
import json

import pytest

from kubetfx.components.common import names
from kubetfx.components.common.errors import KubetfxError
from kubetfx.components.train import strategy

CLUSTER = {"chief": ["job-chief-0:2222"], "worker": ["job-worker-0:2222", "job-worker-1:2222"]}


def _tf_config(role: str, index: int, cluster: dict = CLUSTER) -> dict:
    return {names.ENV_TF_CONFIG: json.dumps({"cluster": cluster, "task": {"type": role, "index": index}})}


def test_no_cluster_description_means_one_machine():
    assert strategy.cluster_task({}) is None
    assert strategy.cluster_task({"PATH": "/usr/bin"}) is None


def test_training_operator_tf_config_names_the_chief_and_the_workers():
    chief = strategy.cluster_task(_tf_config("chief", 0))
    second_worker = strategy.cluster_task(_tf_config("worker", 1))
    assert (chief.role, chief.index, chief.workers, chief.is_chief) == ("chief", 0, 3, True)
    assert (second_worker.role, second_worker.index, second_worker.is_chief) == ("worker", 1, False)
    assert not strategy.cluster_task(_tf_config("worker", 0)).is_chief, "worker 0 is not chief beside a chief"


def test_worker_zero_is_chief_when_no_chief_is_named():
    workers_only = {"worker": ["a:1", "b:1"]}
    assert strategy.cluster_task(_tf_config("worker", 0, workers_only)).is_chief
    assert not strategy.cluster_task(_tf_config("worker", 1, workers_only)).is_chief


def test_vertex_cluster_spec_worker_pools_map_to_chief_and_workers():
    spec = {"cluster": {"workerpool0": ["cmle-0:2222"], "workerpool1": ["cmle-1:2222", "cmle-2:2222"]},
            "environment": "cloud", "task": {"type": "workerpool1", "index": 1}}
    task = strategy.cluster_task({names.ENV_CLUSTER_SPEC: json.dumps(spec)})
    assert task.cluster == {"chief": ["cmle-0:2222"], "worker": ["cmle-1:2222", "cmle-2:2222"]}
    assert (task.role, task.index, task.is_chief) == ("worker", 1, False)


def test_tf_config_wins_over_cluster_spec_and_master_means_chief():
    environ = {**_tf_config("master", 0, {"master": ["m:1"], "worker": ["w:1"]}), names.ENV_CLUSTER_SPEC: "not read"}
    task = strategy.cluster_task(environ)
    assert (task.role, task.is_chief, task.workers) == ("chief", True, 2)


def test_a_one_task_cluster_trains_as_one_machine_and_evaluators_are_left_out():
    assert strategy.cluster_task(_tf_config("chief", 0, {"chief": ["c:1"]})) is None
    task = strategy.cluster_task(_tf_config("chief", 0, {**CLUSTER, "evaluator": ["e:1"]}))
    assert set(task.cluster) == {"chief", "worker"}


def test_unusable_descriptions_are_named():
    with pytest.raises(KubetfxError, match="not JSON with 'cluster' and 'task'"):
        strategy.cluster_task({names.ENV_TF_CONFIG: "{not json"})
    with pytest.raises(KubetfxError, match="this task is a 'ps'"):
        strategy.cluster_task(_tf_config("ps", 0, {**CLUSTER, "ps": ["p:1"]}))


def test_without_a_cluster_or_gpus_training_uses_one_device():
    distribution = strategy.choose({})
    assert distribution.is_chief and distribution.strategy.num_replicas_in_sync == 1
    assert distribution.description == "one device (CPU)"
