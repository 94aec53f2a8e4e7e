"""File access for local paths and `gs://` alike, through TensorFlow's filesystem layer.

TensorFlow is imported lazily so that compiling a pipeline never pays for it.
"""
import contextlib
import json
import os
import posixpath

from kubetfx.components.common.errors import StorageError


def gfile():
    import tensorflow as tf

    return tf.io.gfile


def join(base: str, *parts: str) -> str:
    """Joins path parts with `/` for URIs and the platform separator for local paths."""
    if "://" in base:
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def exists(path: str) -> bool:
    with remote_errors(path, "checking"):
        return gfile().exists(path)


def makedirs(path: str) -> None:
    with remote_errors(path, "creating"):
        gfile().makedirs(path)


def glob(pattern: str) -> list[str]:
    with remote_errors(pattern, "listing"):
        return sorted(gfile().glob(pattern))


def read_text(path: str) -> str:
    with remote_errors(path, "reading"), gfile().GFile(path, "r") as f:
        return f.read()


@contextlib.contextmanager
def remote_errors(path: str, action: str):
    """Turns TensorFlow's errors on a remote path (no credentials, no network, no access) into a
    `StorageError` saying what failed and what to do; local paths' errors pass unchanged."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.OpError as error:
        if "://" not in path:
            raise
        reason = (error.message or str(error)).strip().splitlines()[0][:300]
        raise StorageError(
            f"{action} '{path}' failed ({type(error).__name__}: {reason}). Check that this machine reaches the "
            "storage and has credentials with access to it: `gcloud auth application-default login`, "
            "GOOGLE_APPLICATION_CREDENTIALS naming a key file, or, in a pod, a service account with access "
            "to the bucket (Workload Identity)") from None


def write_text(path: str, text: str) -> None:
    parent = posixpath.dirname(path) if "://" in path else os.path.dirname(path)
    if parent:
        makedirs(parent)
    with remote_errors(path, "writing"), gfile().GFile(path, "w") as f:
        f.write(text)


def read_json(path: str):
    return json.loads(read_text(path))


def write_json(path: str, value) -> None:
    write_text(path, json_text(value))


def json_text(value) -> str:
    """`value` as the JSON files kubetfx writes hold it (sorted, indented; numpy scalars as numbers)."""
    return json.dumps(value, indent=2, sort_keys=True, default=_jsonable) + "\n"


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def copy_tree(src: str, dst: str) -> int:
    """Copies the directory `src` to `dst` (which must not exist); returns the bytes copied."""
    io = gfile()
    total = 0
    for root, _, files in io.walk(src):
        relative = root[len(src):].lstrip("/")
        target_root = join(dst, relative) if relative else dst
        io.makedirs(target_root)
        for name in files:
            io.copy(join(root, name), join(target_root, name), overwrite=False)
            total += io.stat(join(root, name)).length
    return total
