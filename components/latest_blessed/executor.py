"""latest_blessed: the model the serving root's LATEST pointer names (the champion), as a model
artifact, so that a pipeline takes the champion as an input with lineage (e.g. the evaluator's
baseline_model) instead of reading the serving root behind the orchestrator's back.

The served version (`<serving_root>/<version>/`, a SavedModel, see components/common/serving.py) is
copied into the artifact as TFX lays a Model out, `Format-Serving/`, and checked against the
MANIFEST.json push wrote there (a changed, missing or added file is refused, naming it). The copy
keeps the artifact immutable when the root later serves another version. Before the first push
there is no champion: the artifact is an empty folder with `found: false`, not an error, so that the
first run of a pipeline goes through (the evaluator takes an empty baseline as none).
"""
from kubetfx.components.common import fs, integrity, names, serving, timing
from kubetfx.components.common.errors import ServingError

META_FOUND = "found"


def run(serving_root: str, model_uri: str, require_manifest: bool = False) -> dict:
    """Copies the version LATEST names under `serving_root` to `model_uri`/Format-Serving; returns
    whether one was found, its version, where it was and its lineage (MANIFEST.json's).

    With `require_manifest`, a version without a manifest (pushed before push wrote them) is
    refused, naming its folder, before anything is copied; without, it is taken unverified."""
    watch = timing.Stopwatch()
    if not serving_root:
        raise ServingError("serving_root is empty: give the folder or gs:// prefix push writes to")
    pointer = serving.read_latest(serving_root)
    fs.makedirs(model_uri)
    if pointer is None:
        return {META_FOUND: False, "serving_root": serving_root, names.META_WALL_SECONDS: watch.seconds}
    source = pointer["model_dir"]
    if not fs.exists(source):
        raise ServingError(f"LATEST under '{serving_root}' names version '{pointer['version']}', but '{source}' does "
                           "not exist: push again, or point LATEST at a version that is there")
    if require_manifest:
        integrity.require_manifest(source)
    target = fs.join(model_uri, names.SERVING_MODEL_SUBDIR)
    size = fs.copy_tree(source, target)
    manifest = integrity.verify(target, require=require_manifest) or {}
    return {META_FOUND: True, "version": pointer["version"], "serving_root": serving_root, "source": source,
            "bytes": size, "lineage": manifest.get("lineage", {}), names.META_WALL_SECONDS: watch.seconds}
