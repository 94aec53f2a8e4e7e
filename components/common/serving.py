"""The serving root's layout, shared by push (which writes it) and by evaluate and serve (which
read it):

    <serving_root>/<version>/           a SavedModel, one folder per pushed version (TF Serving's layout)
    <serving_root>/LATEST               JSON pointer to the latest blessed version, replaced last

The pointer names its version relative to the root (`{"version": "20260101120000123", ...}`),
so a serving root that is copied or moved still serves; pointers written before that, whose
`model_dir` is absolute, are still read. Replacing the pointer is a compare-and-swap: on local
disks under an exclusive lock, on `gs://` with the object's generation as a precondition.
"""
import contextlib
import json
import os
import posixpath

from kubetfx.components.common import fs, names
from kubetfx.components.common.errors import PointerError

LOCK_FILE = ".LATEST.lock"


def pointer_path(serving_root: str) -> str:
    return fs.join(serving_root, names.LATEST_POINTER)


def read_latest(serving_root: str) -> dict | None:
    """The latest blessed model's pointer, or None before the first push.

    `model_dir` in the answer is where the version is now (under `serving_root`); a pointer that
    is not a JSON object with a `version` raises `PointerError` naming what is wrong.
    """
    if not serving_root or not fs.exists(pointer_path(serving_root)):
        return None
    return parse_pointer(serving_root, fs.read_text(pointer_path(serving_root)))


def parse_pointer(serving_root: str, text: str) -> dict:
    """The pointer in `text`, checked, with `model_dir` resolved against `serving_root`."""
    where = pointer_path(serving_root)
    try:
        pointer = json.loads(text)
    except json.JSONDecodeError as error:
        raise PointerError(f"the pointer '{where}' is not JSON ({error}); push again to rewrite it") from None
    if not isinstance(pointer, dict):
        raise PointerError(f"the pointer '{where}' holds {type(pointer).__name__} {str(pointer)[:60]!r}, "
                           "not an object with a 'version'; push again to rewrite it")
    version = pointer.get("version")
    if isinstance(version, bool) or not isinstance(version, (str, int)) or not str(version).strip():
        raise PointerError(f"the pointer '{where}' has no usable 'version' (found {version!r}); "
                           "push again to rewrite it")
    version = str(version)
    if "/" in version or "\\" in version or version in (".", ".."):
        raise PointerError(f"the pointer '{where}' names version {version!r}, which is not a folder name under the root")
    return {**pointer, "version": version, "model_dir": _resolve(serving_root, version, pointer.get("model_dir"))}


def _resolve(serving_root: str, version: str, model_dir) -> str:
    """Where the version is: `<root>/<version>`, unless an old absolute pointer names a folder
    that still exists elsewhere (a root that was moved keeps working through its own copy)."""
    here = fs.join(serving_root, version)
    if isinstance(model_dir, str) and _is_absolute(model_dir) and model_dir.rstrip("/") != here.rstrip("/"):
        return model_dir if fs.exists(model_dir) and not fs.exists(here) else here
    return here


def _is_absolute(path: str) -> bool:
    return "://" in path or os.path.isabs(path)


def version_key(version: str) -> tuple:
    """Orders versions as TF Serving and KServe do for numbers (numerically), others after them by text."""
    return (0, int(version), "") if version.isdigit() else (1, 0, version)


def replace_latest(serving_root: str, pointer: dict, expected_version: str | None) -> None:
    """Replaces LATEST with `pointer` if it still names `expected_version` (None: no pointer yet).

    Raises `PointerMoved` with the pointer found otherwise, leaving LATEST as it is.
    """
    if serving_root.startswith("gs://"):
        _replace_gcs(serving_root, pointer, expected_version)
        return
    with _local_lock(serving_root):
        found = current_version(serving_root)
        if found != expected_version:
            raise PointerMoved(found)
        temporary = fs.join(serving_root, f".{names.LATEST_POINTER}-{os.getpid()}-{id(pointer):x}")
        try:
            fs.write_json(temporary, pointer)
            fs.gfile().rename(temporary, pointer_path(serving_root), overwrite=True)
        finally:
            if fs.exists(temporary):
                fs.gfile().remove(temporary)


class PointerMoved(Exception):
    """LATEST was replaced by someone else since it was read."""

    def __init__(self, found: str | None):
        super().__init__(f"LATEST now names {found!r}")
        self.found = found


def current_version(serving_root: str) -> str | None:
    """The version LATEST names; a pointer that cannot be parsed counts as a version of its own
    (its text), so that only a push that saw the same broken pointer may replace it."""
    if not fs.exists(pointer_path(serving_root)):
        return None
    text = fs.read_text(pointer_path(serving_root))
    try:
        return parse_pointer(serving_root, text)["version"]
    except PointerError:
        return text


@contextlib.contextmanager
def _local_lock(serving_root: str):
    """An exclusive lock on the root, released when the holder exits or dies (flock)."""
    import fcntl

    fs.makedirs(serving_root)
    with open(os.path.join(serving_root, LOCK_FILE), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _replace_gcs(serving_root: str, pointer: dict, expected_version: str | None) -> None:
    """Compare-and-swap on Cloud Storage: the write is conditional on the generation read."""
    from google.api_core import exceptions
    from google.cloud import storage

    bucket_name, _, prefix = serving_root[len("gs://"):].partition("/")
    bucket = storage.Client().bucket(bucket_name)
    blob = bucket.get_blob(posixpath.join(prefix, names.LATEST_POINTER))
    found, generation = None, 0  # generation 0: the object must not exist yet
    if blob is not None:
        text, generation = blob.download_as_text(), blob.generation
        try:
            found = parse_pointer(serving_root, text)["version"]
        except PointerError:
            found = text
    if found != expected_version:
        raise PointerMoved(found)
    target = bucket.blob(posixpath.join(prefix, names.LATEST_POINTER))
    try:
        target.upload_from_string(fs.json_text(pointer),
                                  content_type="application/json", if_generation_match=generation)
    except exceptions.PreconditionFailed:
        raise PointerMoved(current_version(serving_root)) from None
