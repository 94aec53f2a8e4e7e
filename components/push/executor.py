"""Push: copies a blessed model to a new version under the serving root, atomically.

The copy goes to a hidden staging folder first and is renamed into place only when complete,
and the `LATEST` pointer is replaced only after that; a crash at any point leaves the served
model and the pointer as they were. Existing versions are never overwritten.

Pushes may overlap (two runs, a retry): the version is claimed by the rename, so two pushes
never share one, and the pointer is replaced only if it still names the version this push saw
when it started (see `serving.replace_latest`), so it never moves back to an older model. The
push that loses removes its copy and fails saying which version won. What a killed push left
behind (staging folders, a version the pointer never reached) is swept by a later push.
"""
import datetime
import time
import uuid

from kubetfx.components.common import fs, integrity, names, reports, serving, timing
from kubetfx.components.common.errors import PointerError, PushError
from kubetfx.components.push import manifests

STAGING_PREFIX = ".staging-"
PUSHING_PREFIX = ".pushing-"  # marks a version claimed but not yet pointed to; removed when the push ends
STALE_SECONDS = 6 * 3600  # leftovers of a push that started this long ago belong to a dead push
_CLAIM_ATTEMPTS = 20


def new_version(now: datetime.datetime | None = None) -> str:
    """A numeric, time-ordered version to the millisecond (TF Serving and KServe pick the highest
    number; 17 digits still fit the int64 TF Serving reads versions as)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"


def read_blessing(blessing_uri: str) -> dict:
    path = fs.join(blessing_uri, names.BLESSING_FILE)
    if not fs.exists(path):
        raise PushError(f"no blessing at '{path}': push needs the evaluate step's blessing")
    return fs.read_json(path)


def run_lineage(run_id: str = "", run_name: str = "", **data_uris: str) -> dict:
    """The lineage a pipeline run adds to the manifest: which run made the model and from what data
    (empty URIs, tables the run did not have, are left out). The metrics come from the blessing."""
    return {"run": {"id": run_id, "name": run_name}, "data": {name: uri for name, uri in data_uris.items() if uri}}


def run(model_dir: str, blessing_uri: str, serving_root: str, report_path: str, version: str = "",
        deploy_uri: str = "", deploy: manifests.DeployConfig | None = None,
        stale_seconds: float = STALE_SECONDS, lineage: dict | None = None) -> dict:
    """Pushes `model_dir` if the blessing says so; returns where it went.

    With `deploy`, the KServe InferenceService and the Vertex AI upload request of the new version
    are written under `deploy_uri` before the pointer moves (see `manifests`). An explicit
    `version` that exists already is refused; a generated one moves on to the next free number.
    """
    watch = timing.Stopwatch()
    started_ms = int(time.time() * 1000)
    blessing = read_blessing(blessing_uri)
    if not blessing.get(names.META_BLESSED):
        raise PushError(f"the model at '{model_dir}' is not blessed ({_failed_gates(blessing)}); nothing was pushed")
    if not fs.exists(fs.join(model_dir, "saved_model.pb")):
        raise PushError(f"no SavedModel at '{model_dir}'; nothing was pushed")
    # What this push replaces, if nobody else does meanwhile: the version LATEST names, and what
    # the compare-and-swap expects to find (the same, or the text of a pointer that cannot be read).
    champion, expected = _champion(serving_root)
    _check_judged_against(blessing, champion, serving_root)
    explicit = bool(version)
    version = version or _next_version(champion)
    if explicit and fs.exists(fs.join(serving_root, version)):
        raise PushError(f"version '{version}' already exists under '{serving_root}'; versions are never overwritten")
    if champion and serving.version_key(version) <= serving.version_key(champion):
        raise PushError(f"version '{version}' is not newer than version '{champion}', which LATEST names under "
                        f"'{serving_root}'; the pointer only moves forward, nothing was pushed")
    with timing.stage(names.TASK_PUSH, f"copying the model to {fs.join(serving_root, version)}"):
        version, size = _copy_atomically(model_dir, serving_root, version, explicit, started_ms)
    target = fs.join(serving_root, version)
    try:
        # Every file's SHA-256 and where the model came from (`lineage`: run, data, metrics), for
        # whoever loads the version to check (components/common/integrity.py).
        integrity.write_manifest(target, {"version": version, "source_model_dir": model_dir, "blessing": blessing,
                                          "metrics": blessing.get("metrics", {}), **(lineage or {})})
        deployment = manifests.write(deploy_uri, target, version, deploy) if deploy else {}
        pointer = {
            "version": version,
            "model_dir": version,  # relative to the serving root, which may be copied or moved
            "pushed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "source_model_dir": model_dir,
            "blessing": blessing,
            "previous_version": champion,
        }
        serving.replace_latest(serving_root, pointer, expected)
    except serving.PointerMoved as moved:
        _remove_version(serving_root, version, started_ms)
        raise PushError(f"LATEST under '{serving_root}' moved from version {champion!r} to {moved.found!r} while "
                        f"this push ran, so version '{version}' (judged against {champion!r}) was not made LATEST "
                        f"and its copy was removed; {moved.found!r} stays served. Run the pipeline again to "
                        "compare with it.") from None
    except Exception as error:  # disk full, permissions: nothing half-pushed may stay
        _remove_version(serving_root, version, started_ms)
        raise PushError(f"version '{version}' was copied to '{serving_root}' but LATEST could not be replaced "
                        f"({type(error).__name__}: {error}); the copy was removed and the served model is "
                        "unchanged. Free space or fix access to the serving root and push again.") from error
    _unmark(serving_root, version, started_ms)
    swept = sweep(serving_root, started_ms, stale_seconds)
    figures = {names.META_PUSHED_TO: target, "version": version, "bytes": size, "previous_version": champion,
               "swept": swept, **deployment, names.META_WALL_SECONDS: watch.seconds}
    fs.write_text(report_path, _report(figures))
    return figures


def _check_judged_against(blessing: dict, champion: str | None, serving_root: str) -> None:
    """A blessing that says which served version it was judged against holds only while that
    version is still served: a push that landed after the evaluation was never compared with."""
    if names.META_JUDGED_AGAINST not in blessing:
        return  # an evaluation that read no champion (no baseline given): push's own check only
    judged = blessing[names.META_JUDGED_AGAINST]
    if judged != champion:
        raise PushError(f"the model was judged against version {judged!r}, but LATEST under '{serving_root}' now "
                        f"names {champion!r}, pushed after the evaluation; nothing was pushed and {champion!r} "
                        "stays served. Run the pipeline again to compare with it.")


def _champion(serving_root: str) -> tuple[str | None, str | None]:
    """The version LATEST names now, and what replacing it expects to find. A pointer that cannot
    be read names no version; it is replaced like any other (that is how it is repaired), as long
    as nobody else replaces it first."""
    try:
        latest = serving.read_latest(serving_root)
    except PointerError as error:
        timing.LOG.warning("[%s] %s; this push replaces it", names.TASK_PUSH, error)
        return None, serving.current_version(serving_root)
    version = latest["version"] if latest else None
    return version, version


def _next_version(champion: str | None) -> str:
    """The time's version, or the one after the champion's when the clock is behind it (a push
    in the same millisecond, a skewed clock): versions only grow."""
    version = new_version()
    if champion and champion.isdigit() and int(champion) >= int(version):
        return str(int(champion) + 1)
    return version


def _copy_atomically(model_dir: str, serving_root: str, version: str, explicit: bool, started_ms: int) -> tuple[str, int]:
    """Copies into a staging folder, then claims the version by renaming it into place; a
    generated version taken meanwhile by another push moves on to the next number."""
    staging = fs.join(serving_root, f"{STAGING_PREFIX}{started_ms}-{version}-{uuid.uuid4().hex[:8]}")
    try:
        size = fs.copy_tree(model_dir, staging)
        for _ in range(_CLAIM_ATTEMPTS):
            fs.write_text(_marker(serving_root, version, started_ms), "")
            try:
                fs.gfile().rename(staging, fs.join(serving_root, version), overwrite=False)
                return version, size
            except Exception:
                fs.gfile().remove(_marker(serving_root, version, started_ms))
                if explicit or not fs.exists(fs.join(serving_root, version)):
                    raise
                timing.LOG.info("[%s] version %s was taken by another push; trying %d", names.TASK_PUSH, version,
                                int(version) + 1)
                version = str(int(version) + 1)
        raise PushError(f"{_CLAIM_ATTEMPTS} versions up to '{version}' were taken under '{serving_root}' "
                        "while this push ran; push again")
    except PushError:
        _remove_tree(staging)
        raise
    except Exception as error:
        _remove_tree(staging)
        if explicit and fs.exists(fs.join(serving_root, version)):
            raise PushError(f"version '{version}' already exists under '{serving_root}' (another push claimed it "
                            "meanwhile); versions are never overwritten") from None
        raise PushError(f"copying '{model_dir}' to '{serving_root}' failed ({error}); the served model is unchanged") from error


def _marker(serving_root: str, version: str, started_ms: int) -> str:
    return fs.join(serving_root, f"{PUSHING_PREFIX}{started_ms}-{version}")


def _unmark(serving_root: str, version: str, started_ms: int) -> None:
    marker = _marker(serving_root, version, started_ms)
    if fs.exists(marker):
        fs.gfile().remove(marker)


def _remove_version(serving_root: str, version: str, started_ms: int) -> None:
    _remove_tree(fs.join(serving_root, version))
    _unmark(serving_root, version, started_ms)


def _remove_tree(path: str) -> None:
    """Removes a folder or a file, if there."""
    if fs.gfile().isdir(path):
        fs.gfile().rmtree(path)
    elif fs.exists(path):
        fs.gfile().remove(path)


def sweep(serving_root: str, before_ms: int, stale_seconds: float = STALE_SECONDS) -> list[str]:
    """Removes what pushes that started over `stale_seconds` before `before_ms` left behind:
    staging folders, and versions they claimed that LATEST does not name. Returns what went."""
    current = serving.current_version(serving_root)
    cutoff = before_ms - int(stale_seconds * 1000)
    swept = []
    for prefix in (STAGING_PREFIX, PUSHING_PREFIX):
        for path in fs.glob(fs.join(serving_root, f"{prefix}*")):
            name = path.rstrip("/").rsplit("/", 1)[-1]
            started, _, rest = name[len(prefix):].partition("-")
            if not started.isdigit() or int(started) >= cutoff:
                continue  # not ours to judge, or a push that may still be running
            if prefix == PUSHING_PREFIX and rest != current:
                _remove_tree(fs.join(serving_root, rest))
                swept.append(rest)
            _remove_tree(path)
            swept.append(name)
    if swept:
        timing.LOG.info("[%s] swept what killed pushes left under %s: %s", names.TASK_PUSH, serving_root,
                        ", ".join(swept))
    return swept


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
            ["left by killed pushes, removed", ", ".join(figures["swept"]) or "-"],
            *_deployment_rows(figures),
        ]),
    ]) + "\n"


def _deployment_rows(figures: dict) -> list[list]:
    if "inference_service" not in figures:
        return []
    return [["KServe InferenceService", figures["inference_service"]],
            ["Vertex AI upload request", figures["vertex_upload_request"]]]
