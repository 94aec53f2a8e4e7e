"""Push: copies a blessed model to a new version under the serving root, atomically.

The copy goes to a hidden staging folder first and is renamed into place only when complete,
and the `LATEST` pointer is replaced only after that; a crash at any point leaves the served
model and the pointer as they were. Existing versions are never overwritten.
"""
import datetime
import uuid

from kubetfx.components.common import fs, names, reports, serving, timing
from kubetfx.components.common.errors import PushError
from kubetfx.components.push import manifests

STAGING_PREFIX = ".staging-"


def new_version(now: datetime.datetime | None = None) -> str:
    """A numeric, time-ordered version (TF Serving and KServe pick the highest number)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y%m%d%H%M%S")


def read_blessing(blessing_uri: str) -> dict:
    path = fs.join(blessing_uri, names.BLESSING_FILE)
    if not fs.exists(path):
        raise PushError(f"no blessing at '{path}': push needs the evaluate step's blessing")
    return fs.read_json(path)


def run(model_dir: str, blessing_uri: str, serving_root: str, report_path: str, version: str = "",
        deploy_uri: str = "", deploy: manifests.DeployConfig | None = None) -> dict:
    """Pushes `model_dir` if the blessing says so; returns where it went.

    With `deploy`, the KServe InferenceService and the Vertex AI upload request of the new version
    are written under `deploy_uri` before the pointer moves (see `manifests`).
    """
    watch = timing.Stopwatch()
    blessing = read_blessing(blessing_uri)
    if not blessing.get(names.META_BLESSED):
        raise PushError(f"the model at '{model_dir}' is not blessed ({_failed_gates(blessing)}); nothing was pushed")
    if not fs.exists(fs.join(model_dir, "saved_model.pb")):
        raise PushError(f"no SavedModel at '{model_dir}'; nothing was pushed")
    version = version or new_version()
    target = fs.join(serving_root, version)
    if fs.exists(target):
        raise PushError(f"version '{version}' already exists under '{serving_root}'; versions are never overwritten")
    with timing.stage(names.TASK_PUSH, f"copying the model to {target}"):
        size = _copy_atomically(model_dir, serving_root, version)
    deployment = manifests.write(deploy_uri, target, version, deploy) if deploy else {}
    previous = serving.read_latest(serving_root)
    pointer = {
        "version": version,
        "model_dir": target,
        "pushed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source_model_dir": model_dir,
        "blessing": blessing,
        "previous_version": previous["version"] if previous else None,
    }
    _replace_pointer(serving_root, pointer)
    figures = {names.META_PUSHED_TO: target, "version": version, "bytes": size,
               "previous_version": pointer["previous_version"], **deployment, names.META_WALL_SECONDS: watch.seconds}
    fs.write_text(report_path, _report(figures))
    return figures


def _copy_atomically(model_dir: str, serving_root: str, version: str) -> int:
    staging = fs.join(serving_root, f"{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}")
    try:
        size = fs.copy_tree(model_dir, staging)
        fs.gfile().rename(staging, fs.join(serving_root, version), overwrite=False)
    except Exception as error:
        if fs.exists(staging):
            fs.gfile().rmtree(staging)
        raise PushError(f"copying '{model_dir}' to '{serving_root}' failed ({error}); the served model is unchanged") from error
    return size


def _replace_pointer(serving_root: str, pointer: dict) -> None:
    """Writes the pointer beside its final name, then renames it over the old one in one step."""
    temporary = fs.join(serving_root, f"{STAGING_PREFIX}{names.LATEST_POINTER}-{uuid.uuid4().hex[:8]}")
    fs.write_json(temporary, pointer)
    fs.gfile().rename(temporary, serving.pointer_path(serving_root), overwrite=True)


def _failed_gates(blessing: dict) -> str:
    failed = [gate.get("name", "?") for gate in blessing.get("gates", []) if not gate.get("passed")]
    return "failed gates: " + ", ".join(failed) if failed else "no gate passed"


def _report(figures: dict) -> str:
    return "\n\n".join([
        "# Push",
        reports.markdown_table(["figure", "value"], [
            ["pushed to", figures[names.META_PUSHED_TO]],
            ["version", figures["version"]],
            ["previous version", figures["previous_version"] or "-"],
            ["bytes copied", figures["bytes"]],
            *_deployment_rows(figures),
        ]),
    ]) + "\n"


def _deployment_rows(figures: dict) -> list[list]:
    if "inference_service" not in figures:
        return []
    return [["KServe InferenceService", figures["inference_service"]],
            ["Vertex AI upload request", figures["vertex_upload_request"]]]
