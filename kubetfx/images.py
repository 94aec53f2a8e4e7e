"""Builds and pushes the step images, and records the pushed digests that `kubetfx compile` pins.

`python3 -m kubetfx.images build|push --image-repo REPO` from the repository root (what `make images`
and `make push-images` run). It needs the standard library only, so that building images does not
need the project's environment; podman, docker or buildah does the work, whichever is installed.

Both images start from the run-time base (images/Dockerfile.runtime: Debian 13 and the locked
run-time set with the real TFX). Where the development root of the same recipe exists
(images/root.sh), the base is that root imported; otherwise it is built from its Dockerfile.
`lock` turns a pip resolution report into constraints.txt (`make lock`).
"""
import argparse
import dataclasses
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from kubetfx.config import Images
from kubetfx.version import __version__

ENGINES = ("podman", "docker", "buildah")  # the first one installed is used unless --engine names one
RECIPES = {"cpu": "images/Dockerfile", "gpu": "images/Dockerfile.gpu"}
RUNTIME_RECIPE = "images/Dockerfile.runtime"
RUNTIME_IMAGE = "kubetfx-runtime"  # the Dockerfiles' default base
GPU_BLOCK = "# GPU image only"  # constraints.txt's last block, kept by `lock`
IMAGES_FILE = "build/images.json"  # written by `push`, read by `kubetfx compile --images-file`
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def detect_engine(which=shutil.which) -> str:
    """The first of `ENGINES` on the PATH."""
    for engine in ENGINES:
        if which(engine):
            return engine
    raise SystemExit(f"kubetfx images: none of {', '.join(ENGINES)} is installed; install one or pass --engine")


def references(images: Images) -> dict[str, str]:
    """What each image is built and pushed as: `<repo>/<name>:<tag>`, by kind (cpu, gpu)."""
    tagged = dataclasses.replace(images, cpu_digest="", gpu_digest="")
    return {"cpu": tagged.cpu, "gpu": tagged.gpu}


def build_command(engine: str, recipe: str, reference: str, runtime_image: str = RUNTIME_IMAGE,
                  context: str = ".") -> list[str]:
    """docker, podman and buildah all take `build --file --tag --build-arg CONTEXT`."""
    return [engine, "build", "--file", recipe, "--tag", reference, "--build-arg", f"RUNTIME_IMAGE={runtime_image}", context]


def image_exists(engine: str, reference: str, run=subprocess.run) -> bool:
    return run([engine, "image", "inspect", reference], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def ensure_runtime(engine: str, runtime_image: str, runtime_root: str = "", run=subprocess.run) -> None:
    """Makes `runtime_image` exist: the development root imported (podman) or its Dockerfile built."""
    if image_exists(engine, runtime_image, run):
        return
    if runtime_root:
        raise SystemExit(f"kubetfx images: the base {runtime_image} is not in {engine}'s store; `images/root.sh build` "
                         f"imports it as it builds {runtime_root}: remove {runtime_root} and run `make install` again")
    else:
        run([engine, "build", "--file", RUNTIME_RECIPE, "--tag", runtime_image, "."], check=True)


def local_reference(engine: str, reference: str, run=subprocess.run) -> str:
    """The built image by content: `<name>@<manifest digest>` (podman, buildah) or its image id (docker,
    which gives local images no manifest digest before a push)."""
    field = "{{.Id}}" if engine == "docker" else "{{.Digest}}"
    found = run([engine, "image", "inspect", "--format", field, reference], check=True, stdout=subprocess.PIPE,
                text=True).stdout.strip()
    if not _DIGEST.fullmatch(found):
        raise SystemExit(f"kubetfx images: {engine} reports '{found}' for {reference}, not a sha256 digest")
    return found if engine == "docker" else f"{reference.rpartition(':')[0]}@{found}"


def push_command(engine: str, reference: str, digest_file: str) -> list[str]:
    if engine == "docker":  # docker has no --digestfile; its output names the digest
        return [engine, "push", reference]
    return [engine, "push", "--digestfile", digest_file, reference]


def parse_digest(text: str, reference: str) -> str:
    """The manifest digest: the last `sha256:` in `docker push`'s output, or a digest file's content."""
    found = _DIGEST.findall(text)
    if not found:
        raise SystemExit(f"kubetfx images: pushing {reference} reported no sha256 digest")
    return found[-1]


def build(engine: str, images: Images, kinds=tuple(RECIPES), runtime_image: str = RUNTIME_IMAGE,
          runtime_root: str = "", run=subprocess.run) -> dict[str, str]:
    """Builds `kinds` on the run-time base; returns each built image's local reference by content."""
    ensure_runtime(engine, runtime_image, runtime_root, run)
    built = {}
    for kind in kinds:
        reference = references(images)[kind]
        run(build_command(engine, RECIPES[kind], reference, runtime_image), check=True)
        built[kind] = local_reference(engine, reference, run)
    return built


def write_lock(report_path: str, constraints_path: str) -> int:
    """constraints.txt from a `pip install --dry-run --report` resolution, its GPU block kept."""
    report = json.loads(pathlib.Path(report_path).read_text())
    pins = sorted(f"{item['metadata']['name']}=={item['metadata']['version']}" for item in report["install"])
    target = pathlib.Path(constraints_path)
    old = target.read_text()
    header = [line for line in old.splitlines() if line.startswith("#")][:2]
    gpu = old[old.index(GPU_BLOCK):] if GPU_BLOCK in old else ""
    target.write_text("\n".join([*header, *pins]) + "\n" + gpu)
    return len(pins)


def push(engine: str, images: Images, kinds=tuple(RECIPES), run=subprocess.run) -> Images:
    """Pushes `kinds` and returns `images` pinned to the digests the registry gave them."""
    digests = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            reference = references(images)[kind]
            digest_file = pathlib.Path(folder, kind)
            # stdout is kept for docker's digest; stderr (progress, errors) goes to the terminal.
            result = run(push_command(engine, reference, str(digest_file)), check=True, stdout=subprocess.PIPE, text=True)
            print(result.stdout, end="")
            text = digest_file.read_text() if digest_file.exists() else result.stdout
            digests[f"{kind}_digest"] = parse_digest(text, reference)
    return dataclasses.replace(images, **digests)


def write_images_file(path: str, images: Images) -> None:
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    recorded = {"repo": images.repo, "tag": images.tag, "cpu_digest": images.cpu_digest, "gpu_digest": images.gpu_digest}
    target.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")


def read_images_file(path: str) -> Images:
    """The images `push` recorded; a digest that is not `sha256:<64 hex>` is refused."""
    try:
        images = Images(**json.loads(pathlib.Path(path).read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"cannot read the pushed images from {path}: {error}") from None
    for digest in (images.cpu_digest, images.gpu_digest):
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"{path} holds '{digest}', not a sha256:<64 hex> digest: run `make push-images` again")
    return images


def pinned(wanted: Images, pushed: Images) -> Images:
    """`wanted` with the pushed digests, unless it names digests itself; both must name the same images."""
    if (wanted.repo, wanted.tag) != (pushed.repo, pushed.tag):
        raise ValueError(f"the images file records {pushed.repo} tag {pushed.tag}, not {wanted.repo} tag {wanted.tag}: "
                         "compile with the repository and tag that were pushed, or push again")
    return dataclasses.replace(wanted, cpu_digest=wanted.cpu_digest or pushed.cpu_digest,
                               gpu_digest=wanted.gpu_digest or pushed.gpu_digest)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m kubetfx.images", description=__doc__)
    parser.add_argument("action", choices=["build", "push", "lock"])
    parser.add_argument("files", nargs="*", help="lock: REPORT CONSTRAINTS")
    parser.add_argument("--image-repo", default="", help="registry path, e.g. registry.example.com/team")
    parser.add_argument("--image-tag", default=__version__)
    parser.add_argument("--engine", default="", help=f"one of {', '.join(ENGINES)} (default: the first installed)")
    parser.add_argument("--only", choices=sorted(RECIPES), help="build or push one image only")
    parser.add_argument("--images-file", default=IMAGES_FILE, help="where push records the digests")
    parser.add_argument("--runtime-image", default=RUNTIME_IMAGE, help="the images' base (imported or built when missing)")
    parser.add_argument("--runtime-root", default="", help="a development root of the same recipe, to import as the base")
    parser.add_argument("--reference-file", default="", help="build: where to write the CPU image's reference by digest")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.action == "lock":
        print(f"kubetfx images: {write_lock(*args.files)} pins written to {args.files[1]}")
        return 0
    if not args.image_repo:
        raise SystemExit("kubetfx images: --image-repo is required, e.g. localhost:5000")
    engine = args.engine or detect_engine()
    images = Images(repo=args.image_repo, tag=args.image_tag)
    try:
        if args.action == "build":
            built = build(engine, images, kinds=(args.only,) if args.only else tuple(RECIPES),
                          runtime_image=args.runtime_image, runtime_root=args.runtime_root)
            for kind, reference in built.items():
                print(f"kubetfx images: built {kind} image {reference}")
            if args.reference_file and "cpu" in built:
                pathlib.Path(args.reference_file).parent.mkdir(parents=True, exist_ok=True)
                pathlib.Path(args.reference_file).write_text(built["cpu"] + "\n")
            return 0
        pushed = push(engine, images, kinds=(args.only,) if args.only else tuple(RECIPES))
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"kubetfx images: `{' '.join(error.cmd)}` failed with exit status {error.returncode}") from None
    except OSError as error:
        raise SystemExit(f"kubetfx images: cannot run {engine}: {error}") from None
    write_images_file(args.images_file, pushed)
    print(f"wrote {args.images_file}: `make compile` pins these digests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
