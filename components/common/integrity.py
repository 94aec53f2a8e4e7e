"""A pushed version's manifest: the SHA-256 of every file and the model's lineage, so that
whoever loads the version (serve, batch recommendations, the champion loader) can tell that its
files are the ones push wrote.

    <serving_root>/<version>/MANIFEST.json
        {"format": 1, "algorithm": "sha256", "created_at": ...,
         "files": {"saved_model.pb": {"sha256": "...", "bytes": 123}, "variables/variables.index": ...},
         "lineage": {"version": ..., "run": ..., "data": {...}, "metrics": {...}, ...}}

The manifest sits inside the version folder so that it travels with it (KServe's storage
initializer copies the whole folder to /mnt/models), and lists every other file there: a file
changed, removed or added after push is refused by `verify`, naming it. The manifest guards
against accidents and against writers who cannot also rewrite it; against those who can, keep the
serving root writable by push alone (bucket IAM, a read-only mount for serving).
"""
import datetime
import hashlib
import hmac

from kubetfx.components.common import fs
from kubetfx.components.common.errors import KubetfxError

MANIFEST_FILE = "MANIFEST.json"
FORMAT = 1
_CHUNK = 1 << 20


class IntegrityError(KubetfxError):
    """A model's files do not match its manifest, or the manifest is missing where it is required."""


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with fs.gfile().GFile(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_hashes(model_dir: str) -> dict[str, dict]:
    """Every file under `model_dir` (the manifest excepted), by path relative to it ('/'-separated)."""
    io = fs.gfile()
    base = model_dir.rstrip("/")
    found = {}
    for root, _, files in io.walk(base):
        relative_root = root[len(base):].strip("/").replace("\\", "/")
        for name in files:
            relative = f"{relative_root}/{name}" if relative_root else name
            if relative == MANIFEST_FILE:
                continue
            path = fs.join(root, name)
            found[relative] = {"sha256": sha256_file(path), "bytes": int(io.stat(path).length)}
    return dict(sorted(found.items()))


def write_manifest(model_dir: str, lineage: dict) -> dict:
    """Hashes every file of `model_dir` and writes MANIFEST.json there; returns the manifest."""
    manifest = {"format": FORMAT, "algorithm": "sha256",
                "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "files": file_hashes(model_dir), "lineage": lineage}
    fs.write_json(fs.join(model_dir, MANIFEST_FILE), manifest)
    return manifest


def read_manifest(model_dir: str) -> dict | None:
    path = fs.join(model_dir, MANIFEST_FILE)
    if not fs.exists(path):
        return None
    try:
        manifest = fs.read_json(path)
    except ValueError as error:
        raise IntegrityError(f"the manifest '{path}' is not JSON ({error}); the model cannot be trusted: push it again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise IntegrityError(f"the manifest '{path}' has no 'files' object; the model cannot be trusted: push it again")
    return manifest


def require_manifest(model_dir: str) -> None:
    """Refuses `model_dir` when it holds no manifest, naming it and what to do (its files are not
    checked here: `verify` does that)."""
    if not fs.exists(fs.join(model_dir, MANIFEST_FILE)):
        raise IntegrityError(_missing(model_dir))


def verify(model_dir: str, require: bool = False) -> dict | None:
    """Checks every file of `model_dir` against its manifest; returns the manifest, or None when
    there is none and `require` is false (versions pushed before manifests existed).

    Raises `IntegrityError` naming the first files that changed, went missing or were added, or,
    with `require`, naming the folder that has no manifest.
    """
    manifest = read_manifest(model_dir)
    if manifest is None:
        if require:
            raise IntegrityError(_missing(model_dir))
        return None
    expected, actual = manifest["files"], file_hashes(model_dir)
    changed = [name for name in expected if name in actual
               and not hmac.compare_digest(str(expected[name].get("sha256", "")), actual[name]["sha256"])]
    missing = [name for name in expected if name not in actual]
    added = [name for name in actual if name not in expected]
    problems = ([f"'{name}' changed (its SHA-256 differs from the manifest's)" for name in changed]
                + [f"'{name}' is missing" for name in missing]
                + [f"'{name}' was added (the manifest does not list it)" for name in added])
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise IntegrityError(f"the model at '{model_dir}' does not match its {MANIFEST_FILE}: "
                             f"{'; '.join(problems[:3])}{more}. Refusing to load it; push the model again")
    return manifest


def _missing(model_dir: str) -> str:
    return (f"the model at '{model_dir}' has no {MANIFEST_FILE}, which is required (--require-manifest): it was "
            "pushed before push wrote manifests, or the file was removed, so its files cannot be verified. Refusing "
            "to load it; push the model again (push writes the manifest)")
