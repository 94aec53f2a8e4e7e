"""kubetfx: TFX steps as Kubeflow Pipelines v2 components.

`components/` installs as `kubetfx.components`, `pipelines/` as `kubetfx.pipelines`.
"""
import os

# TensorFlow 2.21 defaults to Keras 3, which breaks under MultiWorkerMirroredStrategy and
# tensorflow-recommenders; every step and every user module file must see tf-keras. The variable
# only takes effect if set before TensorFlow is first imported, and every kubetfx step imports
# this package first, so this is the one place that can guarantee it.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kubetfx.version import __version__  # noqa: E402

__all__ = ["__version__"]
