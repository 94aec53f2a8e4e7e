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


@pytest.mark.parametrize("recipe", ["Dockerfile", "Dockerfile.gpu"])
def test_recipes_install_the_pinned_run_time_set_and_kubetfx_only(recipe):
    text = (REPO_ROOT / "images" / recipe).read_text()
    runs = [line.split() for line in text.replace("\\\n", " ").splitlines() if line.startswith("RUN ")]
    pins = ["--constraint", "/tmp/kubetfx/constraints.txt", "--requirement", "/tmp/kubetfx/requirements.txt"]
    cuda = ['"tensorflow[and-cuda]"'] if recipe.endswith("gpu") else []  # requirements.txt's tensorflow, its extra
    assert runs == [["RUN", "pip", "install", *pins, *cuda],
                    ["RUN", "pip", "install", "--no-deps", "/tmp/kubetfx", "&&", "rm", "-rf", "/tmp/kubetfx"]]
    assert "TF_USE_LEGACY_KERAS=1" in text


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
                       "kubetfx", "components", "pipelines"}


def test_the_engine_is_the_first_installed():
    assert images.detect_engine(lambda name: name in ("podman", "buildah")) == "podman"
    assert images.detect_engine(lambda name: name == "buildah") == "buildah"
    with pytest.raises(SystemExit, match="docker, podman, buildah"):
        images.detect_engine(lambda name: False)


def _engine(folder: pathlib.Path, name: str, script: str) -> None:
    """A stand-in `name` on the PATH that logs its arguments and runs `script`."""
    path = folder / name
    path.write_text(f'#!/bin/sh\necho "$@" >> "{folder}/calls"\n{script}\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize("engine, script", [
    # docker has no --digestfile: the digest is in what it prints
    ("docker", f'[ "$1" = push ] && echo "0.1.0: digest: {DIGEST} size: 2205"; exit 0'),
    # podman and buildah write it to --digestfile FILE
    ("podman", f'[ "$1" = push ] && printf "{DIGEST}" > "$3"; exit 0'),
])
def test_push_records_the_digests_that_compile_pins(tmp_path, monkeypatch, engine, script, capsys):
    _engine(tmp_path, engine, script)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    images_file = tmp_path / "images.json"
    flags = ["--image-repo", "registry.test/team", "--engine", engine]
    assert images.main(["build", *flags]) == 0
    assert images.main(["push", *flags, "--images-file", str(images_file)]) == 0

    calls = (tmp_path / "calls").read_text().splitlines()
    cpu, gpu = f"registry.test/team/kubetfx:{cli.__version__}", f"registry.test/team/kubetfx-gpu:{cli.__version__}"
    assert calls[:2] == [f"build --file images/Dockerfile --tag {cpu} .", f"build --file images/Dockerfile.gpu --tag {gpu} ."]
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
    with pytest.raises(SystemExit, match="`podman build --file images/Dockerfile .*` failed with exit status 125"):
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
