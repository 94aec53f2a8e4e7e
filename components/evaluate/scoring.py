"""Scores the catalogue with a SavedModel that follows the kubetfx model contract."""
import numpy as np
import pandas as pd

from kubetfx.components.common import fs, names
from kubetfx.components.common.errors import ModelContractError

_DEFAULTS = {"string": b"", "int64": 0, "float32": 0.0}


class CatalogueScorer:
    """`scorer(user_indices)` → [batch, catalogue] scores for the given eval users."""

    def __init__(self, model_dir: str, user_features: pd.DataFrame):
        import tensorflow as tf

        if not fs.exists(fs.join(model_dir, "saved_model.pb")):
            raise ModelContractError(f"no SavedModel at '{model_dir}'")
        self._model = tf.saved_model.load(model_dir)
        missing = [s for s in (names.SIGNATURE_SCORE_CATALOGUE, names.SIGNATURE_CATALOGUE) if s not in self._model.signatures]
        if missing:
            raise ModelContractError(
                f"the model at '{model_dir}' lacks the signature(s) {missing}: the evaluator needs "
                f"'{names.SIGNATURE_SCORE_CATALOGUE}' (raw user features → scores [batch, catalogue]) and "
                f"'{names.SIGNATURE_CATALOGUE}' (→ item_ids [catalogue])"
            )
        self._score = self._model.signatures[names.SIGNATURE_SCORE_CATALOGUE]
        self.catalogue = np.array([v.decode() for v in self._model.signatures[names.SIGNATURE_CATALOGUE]()["item_ids"].numpy()], dtype=object)
        self._inputs = _inputs(self._score, user_features)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        feed = {name: tf.constant(values[batch], dtype=dtype) for name, (values, dtype) in self._inputs.items()}
        return self._score(**feed)["scores"].numpy()


def _inputs(signature, user_features: pd.DataFrame) -> dict:
    """Each signature input as a numpy column over eval users, missing values defaulted."""
    _, specs = signature.structured_input_signature
    inputs = {}
    for name, spec in specs.items():
        default = _DEFAULTS.get(spec.dtype.name, 0)
        if name not in user_features.columns:
            raise ModelContractError(f"the model's input '{name}' is not a column of the examples")
        column = user_features[name]
        if spec.dtype.name == "string":
            values = np.array([str(v).encode() if v is not None and not pd.isna(v) else default for v in column], dtype=object)
        else:
            values = column.fillna(default).to_numpy().astype(spec.dtype.as_numpy_dtype)
        inputs[name] = (values, spec.dtype)
    return inputs
