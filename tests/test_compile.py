"""The compiled spec: loads with the KFP SDK, has the six steps wired by artifacts, is current."""
import pathlib

import pytest
import yaml

from kubetfx import cli
from kubetfx.commands import compile as compile_command
from kubetfx.components.common import names

REPO = pathlib.Path(__file__).resolve().parents[1]
COMMITTED = REPO / "compile" / cli.COMPILED_FILE
COMMITTED_VERTEX = REPO / "compile" / cli.VERTEX_COMPILED_FILE
COMMITTED_RANKING = REPO / "compile" / compile_command.RANKING_COMPILED_FILE


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    assert cli.main(["compile", "--out", str(out)]) == 0
    return out / cli.COMPILED_FILE


def _tasks(spec: dict) -> dict:
    """All tasks of the root DAG and of nested condition DAGs, by name."""
    tasks = dict(spec["root"]["dag"]["tasks"])
    for component in spec["components"].values():
        tasks.update(component.get("dag", {}).get("tasks", {}))
    return tasks


def test_committed_spec_is_current(compiled):
    assert COMMITTED.exists(), "run `make compile` and commit compile/"
    assert compiled.read_text() == COMMITTED.read_text(), "compile/ is stale: run `make compile` and commit it"


def test_committed_ranking_spec_is_current(compiled):
    """The second reference pipeline (pipelines/ranking) is compiled beside the recommender."""
    assert COMMITTED_RANKING.exists(), "run `make compile` and commit compile/"
    ranking = compiled.parent / compile_command.RANKING_COMPILED_FILE
    assert ranking.read_text() == COMMITTED_RANKING.read_text(), "compile/ is stale: run `make compile` and commit it"


def test_spec_loads_with_the_kfp_sdk(compiled):
    from kfp import components

    loaded = components.load_component_from_file(str(compiled))
    assert loaded.name == "kubetfx-recommender"
    assert {"interactions_uri", "serving_root", "module_file", "train_steps"} <= set(loaded.component_spec.inputs)


def test_six_steps_wired_by_artifacts(compiled):
    tasks = _tasks(yaml.safe_load(compiled.read_text()))
    assert set(names.STEPS) <= set(tasks)
    wiring = {
        (names.TASK_VALIDATE, "examples"): names.TASK_INGEST,
        (names.TASK_TRANSFORM, "schema"): names.TASK_VALIDATE,
        (names.TASK_TRAIN, "transform_graph"): names.TASK_TRANSFORM,
        (names.TASK_EVALUATE, "model"): names.TASK_TRAIN,
        (names.TASK_PUSH, "blessing"): names.TASK_EVALUATE,
    }
    for (task, artifact), producer in wiring.items():
        source = tasks[task]["inputs"]["artifacts"][artifact]
        producer_task = source.get("taskOutputArtifact", {}).get("producerTask") or source.get("componentInputArtifact")
        assert producer_task in (producer, f"pipelinechannel--{producer}-{artifact}"), (task, artifact, source)


def test_push_runs_only_when_blessed(compiled):
    spec = yaml.safe_load(compiled.read_text())
    condition_tasks = [t for t in spec["root"]["dag"]["tasks"].values() if "triggerPolicy" in t]
    assert len(condition_tasks) == 1
    assert "evaluate-Output" in condition_tasks[0]["triggerPolicy"]["condition"]


def test_images_come_from_configuration(tmp_path):
    assert cli.main(["compile", "--out", str(tmp_path), "--image-repo", "registry.example.com/team",
                     "--cpu-digest", "sha256:" + "a" * 64]) == 0
    executors = yaml.safe_load((tmp_path / cli.COMPILED_FILE).read_text())["deploymentSpec"]["executors"]
    images = {name: e["container"]["image"] for name, e in executors.items()}
    assert images["exec-train"] == f"registry.example.com/team/kubetfx-gpu:{cli.__version__}"
    assert images["exec-ingest"] == "registry.example.com/team/kubetfx@sha256:" + "a" * 64
    assert all("pip install" not in " ".join(e["container"]["command"]) for e in executors.values())


# --- the train step's placement: GPUs and nodes on Kubeflow, a TFJob launcher, Vertex AI worker pools ---

@pytest.fixture(scope="module")
def compiled_vertex(compiled):
    return compiled.parent / cli.VERTEX_COMPILED_FILE


def _compile(out, *flags) -> tuple[list[dict], dict]:
    """Compiles with `flags`; returns the Kubeflow spec's YAML documents and the Vertex spec."""
    assert cli.main(["compile", "--out", str(out), *flags]) == 0
    kubeflow = list(yaml.safe_load_all((out / cli.COMPILED_FILE).read_text()))
    return kubeflow, yaml.safe_load((out / cli.VERTEX_COMPILED_FILE).read_text())


def _worker_pools(vertex_spec: dict) -> list[dict]:
    """The worker pools of the Vertex custom job that runs the train step."""
    train = _tasks(vertex_spec)[names.TASK_TRAIN]
    component = vertex_spec["components"][train["componentRef"]["name"]]
    return component["inputDefinitions"]["parameters"]["worker_pool_specs"]["defaultValue"]


def _pools_summary(pools: list[dict]) -> list[tuple]:
    return [(p["replica_count"], p["machine_spec"]["machine_type"], p["machine_spec"].get("accelerator_type"),
             p["machine_spec"].get("accelerator_count"), p["container_spec"]["image_uri"]) for p in pools]


def test_committed_vertex_spec_is_current(compiled_vertex):
    assert COMMITTED_VERTEX.exists(), "run `make compile` and commit compile/"
    assert compiled_vertex.read_text() == COMMITTED_VERTEX.read_text(), "compile/ is stale: run `make compile` and commit it"


def test_make_compile_without_options_compiles_what_kubetfx_compile_does():
    makefile = (REPO / "Makefile").read_text()
    assert f"IMAGE_REPO ?= {cli.DEFAULT_IMAGE_REPO}\n" in makefile, "the committed specs would not be reproduced"


def test_default_trainer_is_one_gpu_on_kubeflow_and_one_t4_on_vertex(compiled, compiled_vertex):
    resources = yaml.safe_load(compiled.read_text())["deploymentSpec"]["executors"]["exec-train"]["container"]["resources"]
    assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert resources["accelerator"]["resourceCount"] == "1"
    assert (resources["resourceCpuRequest"], resources["resourceMemoryRequest"]) == ("4", "16G")
    pools = _worker_pools(yaml.safe_load(compiled_vertex.read_text()))
    version = cli.__version__
    assert _pools_summary(pools) == [(1, "n1-standard-8", "NVIDIA_TESLA_T4", 1, f"localhost:5000/kubetfx-gpu:{version}")]


def test_vertex_custom_job_has_the_worker_pools_asked_for(tmp_path):
    _, vertex = _compile(tmp_path, "--workers", "3", "--gpu-type", "nvidia-l4", "--gpu-count", "2",
                         "--machine-type", "g2-standard-24", "--image-repo", "registry.example.com/team")
    image = f"registry.example.com/team/kubetfx-gpu:{cli.__version__}"
    assert _pools_summary(_worker_pools(vertex)) == [(1, "g2-standard-24", "NVIDIA_L4", 2, image),
                                                     (2, "g2-standard-24", "NVIDIA_L4", 2, image)]
    job = vertex["components"][_tasks(vertex)[names.TASK_TRAIN]["componentRef"]["name"]]["inputDefinitions"]
    assert job["parameters"]["restart_job_on_worker_restart"]["defaultValue"] is True, "all resume from the backup"
    assert set(names.STEPS) <= set(_tasks(vertex))
    source = _tasks(vertex)[names.TASK_TRAIN]["inputs"]["artifacts"]["transform_graph"]["taskOutputArtifact"]
    assert source["producerTask"] == names.TASK_TRANSFORM


def test_kubeflow_trainer_gets_its_gpus_resources_node_selectors_and_tolerations(tmp_path):
    (spec, platform), _ = _compile(tmp_path, "--gpu-type", "nvidia-tesla-a100", "--gpu-count", "2", "--cpu", "8",
                                   "--cpu-limit", "16", "--memory", "64Gi", "--node-selector", "pool=gpu",
                                   "--toleration", "nvidia.com/gpu:NoSchedule", "--toleration", "team=ml:NoExecute")
    resources = spec["deploymentSpec"]["executors"]["exec-train"]["container"]["resources"]
    assert (resources["accelerator"]["resourceType"], resources["accelerator"]["resourceCount"]) == ("nvidia.com/gpu", "2")
    assert (resources["resourceCpuRequest"], resources["resourceCpuLimit"]) == ("8", "16")
    assert (resources["resourceMemoryRequest"], resources["resourceMemoryLimit"]) == ("64Gi", "64Gi")
    train = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train"]
    assert train["nodeSelector"]["labels"] == {"pool": "gpu", "cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}
    assert train["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                                    {"key": "team", "operator": "Equal", "value": "ml", "effect": "NoExecute"}]
    assert set(platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]) == {"exec-train"}


def test_several_workers_on_kubeflow_make_train_a_tfjob_launcher(tmp_path):
    (spec,), _ = _compile(tmp_path, "--workers", "4", "--gpu-count", "2", "--image-repo", "registry.example.com/team")
    train = _tasks(spec)[names.TASK_TRAIN]
    constants = {name: value["runtimeValue"]["constant"] for name, value in train["inputs"]["parameters"].items()
                 if "runtimeValue" in value}
    assert constants["trainer_image"] == f"registry.example.com/team/kubetfx-gpu:{cli.__version__}"
    assert (constants["training"]["workers"], constants["training"]["gpu_count"]) == (4, 2)
    launcher = spec["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert launcher["image"] == f"registry.example.com/team/kubetfx:{cli.__version__}", "the launcher needs no GPU"
    assert "resources" not in launcher
    assert train["inputs"]["artifacts"]["transform_graph"]["taskOutputArtifact"]["producerTask"] == names.TASK_TRANSFORM


def test_push_takes_token_canary_and_the_runs_lineage_from_the_pipeline(compiled):
    from kfp import dsl

    spec = yaml.safe_load(compiled.read_text())
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert inputs["require_token"]["defaultValue"] is False  # no token unless asked for
    assert inputs["canary_traffic_percent"]["defaultValue"] == 0  # no canary unless asked for
    push = _tasks(spec)[names.TASK_PUSH]["inputs"]["parameters"]
    for name in ("require_token", "canary_traffic_percent", "interactions_uri", "users_uri", "items_uri"):
        assert push[name]["componentInputParameter"] == f"pipelinechannel--{name}", name
    assert push["run_id"]["runtimeValue"]["constant"] == dsl.PIPELINE_JOB_ID_PLACEHOLDER
    assert push["run_name"]["runtimeValue"]["constant"] == dsl.PIPELINE_JOB_NAME_PLACEHOLDER
