"""The serving root's layout, shared by push (which writes it) and by evaluate and serve (which
read it):

    <serving_root>/<version>/           a SavedModel, one folder per pushed version (TF Serving's layout)
    <serving_root>/LATEST               JSON pointer to the latest blessed version, replaced last
"""
from kubetfx.components.common import fs, names


def pointer_path(serving_root: str) -> str:
    return fs.join(serving_root, names.LATEST_POINTER)


def read_latest(serving_root: str) -> dict | None:
    """The latest blessed model's pointer ({'version', 'model_dir', ...}), or None before the first push."""
    if not serving_root or not fs.exists(pointer_path(serving_root)):
        return None
    return fs.read_json(pointer_path(serving_root))
