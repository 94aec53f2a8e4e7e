"""Image recipes, `make images`/`make push-images` (kubetfx.images) and the digests `kubetfx compile` pins.
No image is built here: stand-in engines on the PATH answer as docker and podman do."""
import json
import os
import pathlib
import stat

import pytest
import yaml

from kubetfx import cli, images
from kubetfx.config import Images

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
DIGEST = "sha256:" + "d" * 64


def _requirements(name: str) -> set[str]:
    lines = (REPO_ROOT / name).read_text().splitlines()
    return {line.split("==")[0].split("[")[0].lower() for line in lines if line and not line.startswith("#")}


def _runs(recipe: str) -> list[list[str]]:
    text = (REPO_ROOT / "images" / recipe).read_text()
    return [line.split() for line in text.replace("\\\n", " ").splitlines() if line.startswith("RUN ")]


def test_the_runtime_base_is_the_one_recipe_on_debian_13():
    """Dockerfile.runtime runs images/provision.sh, as images/root.sh does for the development root."""
    text = (REPO_ROOT / "images" / "Dockerfile.runtime").read_text()
    assert "debian:trixie" in text and "TF_USE_LEGACY_KERAS=1" in text
    assert _runs("Dockerfile.runtime") == [["RUN", "PIP_NO_CACHE_DIR=1", "sh", "/opt/kubetfx-recipe/provision.sh",
                                            "/opt/kubetfx-recipe", "&&", "rm", "-rf", "/opt/kubetfx-recipe"]]
    provision = (REPO_ROOT / "images" / "provision.sh").read_text()
    assert '--constraint "$SRC/constraints.txt" --requirement "$SRC/requirements.txt"' in provision
    assert 'provision.sh" "$src"' in (REPO_ROOT / "images" / "root.sh").read_text()


@pytest.mark.parametrize("recipe", ["Dockerfile", "Dockerfile.gpu"])
def test_step_images_add_kubetfx_and_only_the_gpu_image_adds_cuda(recipe):
    text = (REPO_ROOT / "images" / recipe).read_text()
    assert "FROM ${RUNTIME_IMAGE}" in text
    install = ["RUN", "python3", "-m", "pip", "install", "--quiet", "--no-cache-dir", "--no-deps", "--no-build-isolation",
               "/tmp/kubetfx", "&&", "rm", "-rf", "/tmp/kubetfx"]
    cuda = [["RUN", "python3", "-m", "pip", "install", "--quiet", "--no-cache-dir", "--constraint",
             "/tmp/kubetfx-pins/constraints.txt", '"tensorflow[and-cuda]"', "&&", "rm", "-rf", "/tmp/kubetfx-pins"]]
    assert _runs(recipe) == [*(cuda if recipe.endswith("gpu") else []), install]


def test_compile_and_submit_only_dependencies_stay_out_of_the_images():
    run_time, client = _requirements("requirements.txt"), _requirements("requirements-client.txt")
    assert not run_time & client
    assert {"kfp-kubernetes", "google-cloud-pipeline-components"} <= client
    assert {"tensorflow", "kfp", "tensorflow-transform"} <= run_time  # kfp runs each step's executor


def test_the_build_context_holds_the_package_and_its_pins_only():
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert lines[[line.strip() for line in lines].index("*")] == "*"
    assert allowed == {"setup.py", "README.md", "requirements.txt", "requirements-client.txt", "constraints.txt",
                       "kubetfx", "components", "pipelines", "images/provision.sh", "pyproject.toml"}


def test_the_engine_is_the_first_installed():
    assert images.detect_engine(lambda name: name in ("podman", "buildah")) == "podman"
    assert images.detect_engine(lambda name: name == "buildah") == "buildah"
    assert images.detect_engine(lambda name: name in ("docker", "podman")) == "podman"
    with pytest.raises(SystemExit, match="podman, docker, buildah"):
        images.detect_engine(lambda name: False)


def _engine(folder: pathlib.Path, name: str, script: str) -> None:
    """A stand-in `name` on the PATH that logs its arguments and runs `script`."""
    path = folder / name
    path.write_text(f'#!/bin/sh\necho "$@" >> "{folder}/calls"\n{script}\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


# Each stand-in answers `image inspect` (the base exists; a built image's digest or id) like the real one.
_INSPECT = f'[ "$1" = image ] && {{ [ "$3" = --format ] && echo "{DIGEST}"; exit 0; }}'


@pytest.mark.parametrize("engine, script", [
    # docker has no --digestfile: the digest is in what it prints
    ("docker", f'{_INSPECT}; [ "$1" = push ] && echo "0.1.0: digest: {DIGEST} size: 2205"; exit 0'),
    # podman and buildah write it to --digestfile FILE
    ("podman", f'{_INSPECT}; [ "$1" = push ] && printf "{DIGEST}" > "$3"; exit 0'),
])
def test_push_records_the_digests_that_compile_pins(tmp_path, monkeypatch, engine, script, capsys):
    _engine(tmp_path, engine, script)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    images_file = tmp_path / "images.json"
    flags = ["--image-repo", "registry.test/team", "--engine", engine]
    assert images.main(["build", *flags]) == 0
    assert images.main(["push", *flags, "--images-file", str(images_file)]) == 0

    calls = [call for call in (tmp_path / "calls").read_text().splitlines() if not call.startswith("image inspect")]
    cpu, gpu = f"registry.test/team/kubetfx:{cli.__version__}", f"registry.test/team/kubetfx-gpu:{cli.__version__}"
    base = "--build-arg RUNTIME_IMAGE=kubetfx-runtime"
    assert calls[:2] == [f"build --file images/Dockerfile --tag {cpu} {base} .",
                         f"build --file images/Dockerfile.gpu --tag {gpu} {base} ."]
    assert [call.split()[-1] for call in calls[2:]] == [cpu, gpu]
    assert json.loads(images_file.read_text()) == {"repo": "registry.test/team", "tag": cli.__version__,
                                                   "cpu_digest": DIGEST, "gpu_digest": DIGEST}

    out = tmp_path / "compiled"
    assert cli.main(["compile", "--out", str(out), "--image-repo", "registry.test/team",
                     "--images-file", str(images_file)]) == 0
    executors = yaml.safe_load((out / cli.COMPILED_FILE).read_text())["deploymentSpec"]["executors"]
    assert executors["exec-ingest"]["container"]["image"] == f"registry.test/team/kubetfx@{DIGEST}"
    assert executors["exec-train"]["container"]["image"] == f"registry.test/team/kubetfx-gpu@{DIGEST}"


def test_a_push_that_reports_no_digest_fails(tmp_path, monkeypatch):
    _engine(tmp_path, "docker", "echo pushed; exit 0")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SystemExit, match="no sha256 digest"):
        images.main(["push", "--image-repo", "registry.test/team", "--engine", "docker",
                     "--images-file", str(tmp_path / "images.json")])
    assert not (tmp_path / "images.json").exists()


def test_compile_refuses_digests_pushed_for_other_images(tmp_path, capsys):
    images_file = tmp_path / "images.json"
    images.write_images_file(str(images_file), Images(repo="elsewhere.test/team", cpu_digest=DIGEST, gpu_digest=DIGEST))
    with pytest.raises(SystemExit, match="records elsewhere.test/team"):
        cli.main(["compile", "--out", str(tmp_path), "--image-repo", "registry.test/team", "--images-file",
                  str(images_file)])
    images_file.write_text(json.dumps({"repo": "registry.test/team", "tag": cli.__version__, "cpu_digest": "latest",
                                       "gpu_digest": DIGEST}))
    with pytest.raises(SystemExit, match="not a sha256"):
        cli.main(["compile", "--out", str(tmp_path), "--image-repo", "registry.test/team", "--images-file",
                  str(images_file)])


def test_a_failing_engine_is_reported_by_its_command(tmp_path, monkeypatch):
    _engine(tmp_path, "podman", "echo 'unauthorized: authentication required' >&2; exit 125")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SystemExit, match="`podman build --file images/Dockerfile.runtime .*` failed with exit status 125"):
        images.main(["build", "--image-repo", "registry.test/team", "--engine", "podman"])


def test_every_cuda_wheel_of_the_gpu_image_is_pinned_within_tensorflows_bounds():
    """The GPU image installs tensorflow[and-cuda]; constraints.txt must pin each wheel that extra pulls in."""
    from importlib import metadata

    from packaging.requirements import Requirement

    pins = dict(line.split("==") for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    extra = [Requirement(text) for text in metadata.requires("tensorflow") if 'extra == "and-cuda"' in text]
    assert len(extra) >= 10
    for requirement in extra:
        assert requirement.name in pins, requirement.name
        assert requirement.specifier.contains(pins[requirement.name]), (requirement, pins[requirement.name])
