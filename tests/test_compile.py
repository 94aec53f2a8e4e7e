"""The compiled spec: loads with the KFP SDK, has the six steps wired by artifacts, is current."""
import pathlib

import pytest
import yaml

from kubetfx import cli
from kubetfx.components.common import names

REPO = pathlib.Path(__file__).resolve().parents[1]
COMMITTED = REPO / "compile" / cli.COMPILED_FILE


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
    assert "blessed" in condition_tasks[0]["triggerPolicy"]["condition"]


def test_images_come_from_configuration(tmp_path):
    assert cli.main(["compile", "--out", str(tmp_path), "--image-repo", "registry.example.com/team",
                     "--cpu-digest", "sha256:" + "a" * 64]) == 0
    executors = yaml.safe_load((tmp_path / cli.COMPILED_FILE).read_text())["deploymentSpec"]["executors"]
    images = {name: e["container"]["image"] for name, e in executors.items()}
    assert images["exec-train"] == f"registry.example.com/team/kubetfx-gpu:{cli.__version__}"
    assert images["exec-ingest"] == "registry.example.com/team/kubetfx@sha256:" + "a" * 64
    assert all("pip install" not in " ".join(e["container"]["command"]) for e in executors.values())
