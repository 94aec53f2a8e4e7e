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


# --- one trainer interface for the three placements ------------------------------------------------

# What the component has besides the trainer's own arguments: the placement it runs in, and the
# metrics KFP shows (the executor returns them); what TrainArgs has besides: test and bench settings.
PLACEMENT_PARAMETERS = {"placement", "trainer_image", "training"}
COMPONENT_ONLY = PLACEMENT_PARAMETERS | {"metrics"}
ARGS_ONLY = {"cpu_replicas", "figures"}


def _train_interface(spec) -> set:
    return set(spec.inputs or {}) | set(spec.outputs or {})


def test_the_executors_arguments_are_the_components_inputs_and_outputs():
    import dataclasses

    from kubetfx.components.train import component
    from kubetfx.components.train.args import TrainArgs

    spec = component.build("image").component_spec
    assert _train_interface(spec) - COMPONENT_ONLY == {f.name for f in dataclasses.fields(TrainArgs)} - ARGS_ONLY
    assert PLACEMENT_PARAMETERS <= set(spec.inputs), "the placement is a parameter of the one component"


def test_every_placement_is_the_one_train_component():
    from kubetfx.components.train import component, op, placement
    from kubetfx.config import Images

    interface = _train_interface(component.build("image").component_spec)
    images = Images(repo="registry.example.com/team")
    assert component.build("image").component_spec.inputs["placement"].default == placement.POD
    # Kubeflow's (one pod, a TFJob launcher) are the component itself: tests/test_compile.py checks their specs.
    vertex = op.train_op(images, TrainingConfig(workers=3), op.VERTEX)
    assert interface - {"metrics"} <= _train_interface(vertex.component_spec), "the custom job wraps the component"
    with pytest.raises(ValueError, match=r"platform must be one of \('kubeflow', 'vertex'\), not 'slurm'"):
        op.train_op(images, TrainingConfig(), "slurm")


def test_an_unknown_placement_is_refused_naming_the_known_ones():
    from kubetfx.components.train import placement

    with pytest.raises(ValueError, match=r"placement must be one of \('pod', 'tfjob'\), not 'gke'"):
        placement.locate("gke")
