"""Builds and pushes the step images, and records the pushed digests that `kubetfx compile` pins.

`python3 -m kubetfx.images build|push --image-repo REPO` from the repository root (what `make images`
and `make push-images` run). It needs the standard library only, so that building images does not
need the project's environment; docker, podman or buildah does the work, whichever is installed.
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

ENGINES = ("docker", "podman", "buildah")  # the first one installed is used unless --engine names one
RECIPES = {"cpu": "images/Dockerfile", "gpu": "images/Dockerfile.gpu"}
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


def build_command(engine: str, recipe: str, reference: str, context: str = ".") -> list[str]:
    """docker, podman and buildah all take `build --file --tag CONTEXT`."""
    return [engine, "build", "--file", recipe, "--tag", reference, context]


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


def build(engine: str, images: Images, kinds=tuple(RECIPES), run=subprocess.run) -> None:
    for kind in kinds:
        run(build_command(engine, RECIPES[kind], references(images)[kind]), check=True)


def push(engine: str, images: Images, run=subprocess.run) -> Images:
    """Pushes both images and returns `images` pinned to the digests the registry gave them."""
    digests = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind, reference in references(images).items():
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
    target.write_text(json.dumps(dataclasses.asdict(images), indent=2, sort_keys=True) + "\n")


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
    parser.add_argument("action", choices=["build", "push"])
    parser.add_argument("--image-repo", required=True, help="registry path, e.g. registry.example.com/team")
    parser.add_argument("--image-tag", default=__version__)
    parser.add_argument("--engine", default="", help=f"one of {', '.join(ENGINES)} (default: the first installed)")
    parser.add_argument("--only", choices=sorted(RECIPES), help="build one image only")
    parser.add_argument("--images-file", default=IMAGES_FILE, help="where push records the digests")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    engine = args.engine or detect_engine()
    images = Images(repo=args.image_repo, tag=args.image_tag)
    try:
        if args.action == "build":
            build(engine, images, kinds=(args.only,) if args.only else tuple(RECIPES))
            return 0
        pushed = push(engine, images)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"kubetfx images: `{' '.join(error.cmd)}` failed with exit status {error.returncode}") from None
    except OSError as error:
        raise SystemExit(f"kubetfx images: cannot run {engine}: {error}") from None
    write_images_file(args.images_file, pushed)
    print(f"wrote {args.images_file}: `make compile` pins these digests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
