"""The step image as a cluster runs it: pushed to a registry on loopback by `kubetfx.images push` (what
`make push-images` runs), pinned by digest in a compiled spec, pulled back by that digest, and the
compiled spec's own steps (image, command, arguments) run from it in containers.

`make test` builds the step image from these sources, starts podman's Docker API and a registry
(Debian's docker-registry) on loopback, pushes the image and passes the record here.
"""
import json
import os
import pathlib
import urllib.request

import pytest
import yaml

from kubetfx import cli
from kubetfx.components.common import names
from kubetfx.pipelines import container_runner
from kubetfx.pipelines.recommender import data

IMAGES_FILE = os.environ.get("KUBETFX_TEST_IMAGES_FILE", "")
pytestmark = [pytest.mark.skipif(not (IMAGES_FILE and os.environ.get("DOCKER_HOST")),
                                 reason="`make test` pushes the step image and starts podman's Docker API for these"),
              pytest.mark.usefixtures("container_engine")]
STEPS_RUN = (names.TASK_INGEST, names.TASK_VALIDATE)  # the CPU image's first steps: they need no trained model
_MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
                   "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json")


@pytest.fixture(scope="module")
def pushed():
    return json.loads(pathlib.Path(IMAGES_FILE).read_text())


def test_the_registry_serves_the_digest_the_push_recorded(pushed):
    request = urllib.request.Request(f"http://{pushed['repo']}/v2/kubetfx/manifests/{pushed['tag']}", method="HEAD",
                                     headers={"Accept": _MANIFEST_TYPES})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Docker-Content-Digest"] == pushed["cpu_digest"]


def test_the_pinned_digest_pulls_back_the_built_image(pushed, container_engine):
    pulled = container_engine.images.pull(f"{pushed['repo']}/kubetfx@{pushed['cpu_digest']}")
    assert pulled.id == container_engine.images.get(os.environ["KUBETFX_TEST_IMAGE"]).id


@pytest.fixture(scope="module")
def compiled_steps(pushed, tmp_path_factory):
    """The compiled Kubeflow spec pinned to the pushed digest, cut down to the steps that run here."""
    out = tmp_path_factory.mktemp("compiled")
    digest = pushed["cpu_digest"]
    assert cli.main(["compile", "--image-repo", pushed["repo"], "--cpu-digest", digest, "--gpu-digest", digest,
                     "--out", str(out)]) == 0
    spec = yaml.safe_load((out / cli.COMPILED_FILE).read_text())
    return spec, _only(spec, STEPS_RUN)


def _only(spec: dict, tasks: tuple[str, ...]) -> dict:
    """`spec` with the root DAG's `tasks` only, and their components and executors."""
    kept = {name: task for name, task in spec["root"]["dag"]["tasks"].items() if name in tasks}
    components = {task["componentRef"]["name"] for task in kept.values()}
    executors = {spec["components"][name]["executorLabel"] for name in components}
    return {**spec,
            "root": {**spec["root"], "dag": {"tasks": kept}},
            "components": {name: body for name, body in spec["components"].items() if name in components},
            "deploymentSpec": {"executors": {name: body for name, body in spec["deploymentSpec"]["executors"].items()
                                             if name in executors}}}


def test_the_compiled_steps_run_in_their_containers_from_the_pinned_digest(compiled_steps, pushed, synthetic_data,
                                                                             tmp_path):
    from kfp import components, local

    full, cut = compiled_steps
    reference = f"{pushed['repo']}/kubetfx@{pushed['cpu_digest']}"
    for name in cut["deploymentSpec"]["executors"]:
        assert cut["deploymentSpec"]["executors"][name] == full["deploymentSpec"]["executors"][name]
        assert cut["deploymentSpec"]["executors"][name]["container"]["image"] == reference

    arguments = {"interactions_uri": str(synthetic_data / data.INTERACTIONS_FILE),
                 "users_uri": str(synthetic_data / data.USERS_FILE), "items_uri": str(synthetic_data / data.ITEMS_FILE),
                 "serving_root": str(tmp_path / "serving")}
    pipeline_root = tmp_path / "pipeline_root"
    local.init(runner=container_runner.runner(), pipeline_root=str(pipeline_root), raise_on_error=True)
    record: dict = {}
    with container_runner.steps_in_containers(container_runner.mounts_for(arguments, ("serving_root",)), record):
        components.load_component_from_text(yaml.safe_dump(cut))(**arguments)

    assert {task: step["image"] for task, step in record.items()} == {task: reference for task in STEPS_RUN}
    assert all(step["exit_code"] == 0 for step in record.values())
    (run_root,) = pipeline_root.iterdir()
    examples = run_root / names.TASK_INGEST / "examples"
    assert sorted(path.name for path in examples.iterdir() if path.is_dir()) == ["Split-eval", "Split-train"]
    assert any((examples / "Split-train").glob(f"{names.EXAMPLES_FILE_PREFIX}*"))
    assert list((run_root / names.TASK_VALIDATE).rglob(names.SCHEMA_FILE))


def test_a_step_that_fails_in_its_container_fails_the_run(tmp_path):
    """kfp.local alone takes a container the engine already removed for a success (podman's HTTP 500)."""
    from kfp import dsl, local

    @dsl.component(base_image=os.environ["KUBETFX_TEST_IMAGE"], install_kfp_package=False)
    def exits(code: int):
        import sys

        sys.exit(code)

    local.init(runner=container_runner.runner(), pipeline_root=str(tmp_path), raise_on_error=True)
    record: dict = {}
    with container_runner.steps_in_containers({}, record), pytest.raises(RuntimeError, match="FAILURE"):
        exits(code=3)
    assert [step["exit_code"] for step in record.values()] == [3]


def test_the_step_image_holds_every_module_of_the_package(container_engine):
    """setup.py's package map misses no folder: each module of these sources is found in the image."""
    root = pathlib.Path(__file__).resolve().parents[1]
    modules = []
    for folder in ("kubetfx", "components", "pipelines"):
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            prefix = () if folder == "kubetfx" else ("kubetfx",)
            modules.append(".".join(prefix + (parts[:-1] if parts[-1] == "__init__" else parts)))
    script = "import importlib.util, sys; print([m for m in sys.argv[1:] if importlib.util.find_spec(m) is None])"
    output = container_engine.containers.run(os.environ["KUBETFX_TEST_IMAGE"], ["python3", "-c", script, *modules],
                                          remove=True)
    assert len(modules) > 100 and output.decode().strip() == "[]"


def test_the_hosts_openblas_tuning_reaches_the_containers(tmp_path):
    from kfp import dsl, local

    @dsl.component(base_image=os.environ["KUBETFX_TEST_IMAGE"], install_kfp_package=False)
    def reads_environment(name: str) -> str:
        import os

        return os.environ.get(name, "")

    local.init(runner=container_runner.runner({"OPENBLAS_CORETYPE": "Haswell", "HOME": "/elsewhere"}),
               pipeline_root=str(tmp_path), raise_on_error=True)
    with container_runner.steps_in_containers({}, {}):
        assert reads_environment(name="OPENBLAS_CORETYPE").output == "Haswell"
        assert reads_environment(name="HOME").output != "/elsewhere"  # nothing else is passed
