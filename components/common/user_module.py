"""Loads the user's module file (TFX's contract: `preprocessing_fn(inputs)`, `run_fn(fn_args)`).

`module_file` is a path to a `.py` file (local or `gs://`) or a dotted module name that is
installed in the image, such as `kubetfx.pipelines.recommender.module`.
"""
import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile

from kubetfx.components.common import fs
from kubetfx.components.common.errors import ModuleFileError

PREPROCESSING_FN = "preprocessing_fn"
RUN_FN = "run_fn"


def load_function(module_file: str, function_name: str):
    module = _load_module(module_file)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ModuleFileError(
            f"module file '{module_file}' defines no function {function_name}(); "
            f"kubetfx follows TFX's contract: Transform calls {PREPROCESSING_FN}(inputs) and Trainer calls {RUN_FN}(fn_args)"
        )
    return function


def is_path(module_file: str) -> bool:
    """Whether `module_file` names a file (local or a URI), not an installed module."""
    return module_file.endswith(".py") or "/" in module_file or os.sep in module_file


def _load_module(module_file: str):
    if not module_file:
        raise ModuleFileError("no module file given: pass a .py path or an installed module name")
    if not is_path(module_file):
        try:
            return importlib.import_module(module_file)
        except ImportError as error:
            raise ModuleFileError(f"module '{module_file}' cannot be imported: {error}") from None
    if not fs.exists(module_file):
        raise ModuleFileError(f"module file '{module_file}' does not exist or cannot be read")
    local_path = _local_copy(module_file)
    name = "user_module_" + hashlib.sha1(module_file.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, local_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise ModuleFileError(f"module file '{module_file}' failed to import: {type(error).__name__}: {error}") from error
    return module


def _local_copy(module_file: str) -> str:
    if "://" not in module_file:
        return module_file
    local = os.path.join(tempfile.mkdtemp(prefix="kubetfx-module-"), os.path.basename(module_file))
    fs.gfile().copy(module_file, local, overwrite=True)
    return local
