"""The train step's placement: tolerations, GPU model names, and the round trip through a compiled spec."""
import json

import pytest

from kubetfx.config import Toleration, TrainingConfig


def test_tolerations_read_key_value_and_effect():
    assert Toleration.parse("nvidia.com/gpu:NoSchedule").to_kubernetes() == {
        "key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert Toleration.parse("pool=gpu:NoExecute").to_kubernetes() == {
        "key": "pool", "operator": "Equal", "value": "gpu", "effect": "NoExecute"}
    assert Toleration.parse("dedicated").to_kubernetes() == {"key": "dedicated", "operator": "Exists"}
    with pytest.raises(ValueError, match="names no key"):
        Toleration.parse("=x:NoSchedule")


def test_defaults_are_one_worker_with_one_gpu_of_any_model():
    training = TrainingConfig()
    assert (training.workers, training.gpu_count, training.gpu_resource) == (1, 1, "nvidia.com/gpu")
    assert training.all_node_selectors == {}
    assert training.memory_limit_or_request == training.memory_request
    assert training.vertex_accelerator_type == "NVIDIA_TESLA_T4"


def test_a_gpu_model_selects_nodes_and_names_the_vertex_accelerator():
    training = TrainingConfig(gpu_type="nvidia-tesla-a100", node_selectors={"pool": "gpu"})
    assert training.all_node_selectors == {"pool": "gpu", "cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}
    assert training.vertex_accelerator_type == "NVIDIA_TESLA_A100"
    assert TrainingConfig(gpu_type="nvidia-l4", gpu_count=0).all_node_selectors == {}, "no GPU, no GPU node"


def test_the_config_survives_a_compiled_spec_where_numbers_become_floats():
    training = TrainingConfig(workers=4, gpu_count=2, tolerations=(Toleration.parse("a=b:NoSchedule"),))
    as_compiled = json.loads(json.dumps(training.to_dict()).replace(": 4,", ": 4.0,").replace(": 2,", ": 2.0,"))
    assert as_compiled["workers"] == 4.0
    back = TrainingConfig.from_dict(as_compiled)
    assert back == training and isinstance(back.workers, int)


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError, match="workers must be at least 1"):
        TrainingConfig(workers=0)
