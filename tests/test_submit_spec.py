"""What a submitted spec must be: images from configuration (pinned by digest once pushed), no literal
project, bucket or region, parameters described with sane defaults, caching where steps are deterministic."""
import re

import pytest
import yaml

from kubetfx import cli, images
from kubetfx.config import Images

REPO = "registry.test/team"
CPU_DIGEST, GPU_DIGEST = "sha256:" + "c" * 64, "sha256:" + "9" * 64
REQUIRED = {"interactions_uri", "serving_root"}  # the data and where models go: no default can be right
DETERMINISTIC = {"ingest", "validate", "transform", "train"}  # same inputs, same outputs: cached
READ_SERVING_ROOT = {"evaluate", "push"}  # they read the serving root, which changes between runs: never cached


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    """Every spec `kubetfx compile` writes, compiled against an images file as `make push-images` leaves it."""
    out = tmp_path_factory.mktemp("compiled")
    images_file = out / "images.json"
    images.write_images_file(str(images_file), Images(repo=REPO, cpu_digest=CPU_DIGEST, gpu_digest=GPU_DIGEST))
    assert cli.main(["compile", "--out", str(out), "--image-repo", REPO, "--images-file", str(images_file)]) == 0
    return {path.name: path.read_text() for path in sorted(out.glob("*.yaml"))}


@pytest.fixture(scope="module")
def recommender(compiled) -> dict:
    """The recommender's specs (Kubeflow, and Vertex AI where compiled), without other pipelines' specs."""
    return {name: text for name, text in compiled.items() if name in (cli.COMPILED_FILE, cli.VERTEX_COMPILED_FILE)}


def _containers(spec: dict) -> dict:
    return {name: e["container"] for name, e in spec["deploymentSpec"]["executors"].items() if "container" in e}


def _tasks(spec: dict) -> dict:
    tasks = dict(spec["root"]["dag"]["tasks"])
    for component in spec["components"].values():
        tasks.update(component.get("dag", {}).get("tasks", {}))
    return tasks


def test_every_step_runs_on_a_configured_image_pinned_by_digest(compiled):
    import google_cloud_pipeline_components

    pinned = {f"{REPO}/kubetfx@{CPU_DIGEST}", f"{REPO}/kubetfx-gpu@{GPU_DIGEST}"}
    # Vertex AI runs a custom job through Google's launcher, whose tag is the pinned GCPC release.
    launcher = f"gcr.io/ml-pipeline/google-cloud-pipeline-components:{google_cloud_pipeline_components.__version__}"
    for name, text in compiled.items():
        found = {c["image"] for c in _containers(yaml.safe_load(text)).values()}
        assert found <= pinned | {launcher}, (name, found - pinned - {launcher})
        assert f"{REPO}/kubetfx@{CPU_DIGEST}" in found, name


def test_the_trainer_runs_on_the_pinned_gpu_image(recommender):
    assert cli.COMPILED_FILE in recommender
    for name, text in recommender.items():
        assert f"{REPO}/kubetfx-gpu@{GPU_DIGEST}" in text, name  # as a container, or in a custom job's worker pools


def test_images_are_tagged_with_the_package_version_until_pushed(tmp_path):
    assert cli.main(["compile", "--out", str(tmp_path), "--image-repo", REPO]) == 0
    containers = _containers(yaml.safe_load((tmp_path / cli.COMPILED_FILE).read_text()))
    assert {c["image"] for c in containers.values()} == {f"{REPO}/kubetfx:{cli.__version__}",
                                                         f"{REPO}/kubetfx-gpu:{cli.__version__}"}


def test_no_literal_project_bucket_or_region(compiled):
    literal = re.compile(r"gs://[a-z0-9]|projects/[a-z0-9]|/locations/[a-z]"
                         r"|\b(us|europe|asia|australia|northamerica|southamerica|me|africa)-[a-z]+\d+\b")
    for name, text in compiled.items():
        assert literal.findall(text) == [], name


def test_every_parameter_is_described_and_has_a_sane_default(recommender):
    for name, text in recommender.items():
        parameters = yaml.safe_load(text)["root"]["inputDefinitions"]["parameters"]
        assert {p for p, spec in parameters.items() if not spec.get("isOptional")} == REQUIRED, name
        for parameter, spec in parameters.items():
            assert len(spec.get("description", "")) > 10, (name, parameter)
            if parameter not in REQUIRED:
                assert "defaultValue" in spec, (name, parameter)
        defaults = {p: spec.get("defaultValue") for p, spec in parameters.items()}
        assert 0 < defaults["eval_fraction"] < 1 and defaults["train_steps"] > 0 and defaults["eval_steps"] > 0
        assert defaults["top_k"] and all(k > 0 for k in defaults["top_k"])
        assert defaults["split_method"] in ("random", "time") and defaults["module_file"]
        metric, _, k = defaults["main_metric"].partition("@")
        assert metric and k.isdigit() and int(k) in defaults["top_k"]  # the gated metric is one evaluate computes
        assert 0 <= defaults["min_fairness_ratio"] <= 1 and defaults["min_group_size"] >= 1


def test_deterministic_steps_are_cached_and_the_serving_root_readers_are_not(recommender):
    for name, text in recommender.items():
        tasks = _tasks(yaml.safe_load(text))
        caching = {task: tasks[task].get("cachingOptions", {}).get("enableCache", False)
                   for task in DETERMINISTIC | READ_SERVING_ROOT}
        assert caching == {**dict.fromkeys(DETERMINISTIC, True), **dict.fromkeys(READ_SERVING_ROOT, False)}, name
