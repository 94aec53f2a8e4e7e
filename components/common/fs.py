"""File access for local paths and `gs://` alike, through TensorFlow's filesystem layer.

TensorFlow is imported lazily so that compiling a pipeline never pays for it.
"""
import json
import os
import posixpath


def gfile():
    import tensorflow as tf

    return tf.io.gfile


def join(base: str, *parts: str) -> str:
    """Joins path parts with `/` for URIs and the platform separator for local paths."""
    if "://" in base:
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def exists(path: str) -> bool:
    return gfile().exists(path)


def makedirs(path: str) -> None:
    gfile().makedirs(path)


def glob(pattern: str) -> list[str]:
    return sorted(gfile().glob(pattern))


def read_text(path: str) -> str:
    with gfile().GFile(path, "r") as f:
        return f.read()


def write_text(path: str, text: str) -> None:
    parent = posixpath.dirname(path) if "://" in path else os.path.dirname(path)
    if parent:
        makedirs(parent)
    with gfile().GFile(path, "w") as f:
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
