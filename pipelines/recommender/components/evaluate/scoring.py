"""Scores the catalogue with a SavedModel that follows the kubetfx model contract."""
import numpy as np
import pandas as pd

from kubetfx.components.common import fs, names, timing
from kubetfx.components.common.errors import ModelContractError
from kubetfx.pipelines.recommender import contract

_DEFAULTS = {"string": b"", "int64": 0, "int32": 0, "float32": 0.0, "float64": 0.0}


class CatalogueScorer:
    """`scorer(user_indices)` → [batch, catalogue] scores for the given eval users."""

    def __init__(self, model_dir: str, user_features: pd.DataFrame):
        import tensorflow as tf

        if not fs.exists(fs.join(model_dir, "saved_model.pb")):
            raise ModelContractError(f"no SavedModel at '{model_dir}' (no saved_model.pb there)")
        self._model = tf.saved_model.load(model_dir)
        contract.require_signatures(self._model, model_dir)
        self.model_dir = model_dir
        self._score = self._model.signatures[contract.SIGNATURE_SCORE_CATALOGUE]
        outputs = self._model.signatures[contract.SIGNATURE_CATALOGUE]()
        if "item_ids" not in outputs:
            raise ModelContractError(f"the '{contract.SIGNATURE_CATALOGUE}' signature of '{model_dir}' returns "
                                     f"{sorted(outputs)}; expected {contract.SIGNATURES[contract.SIGNATURE_CATALOGUE]}")
        ids = outputs["item_ids"].numpy().reshape(-1)
        self.catalogue = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in ids], dtype=object)
        if len(set(self.catalogue)) != len(self.catalogue):
            raise ModelContractError(f"the catalogue of '{model_dir}' repeats item ids: each item must appear once")
        self._inputs, self.defaulted_inputs = _inputs(self._score, user_features)
        if self.defaulted_inputs:
            timing.LOG.warning("[%s] the model at %s takes %s, absent from the examples: fed defaults",
                               names.TASK_EVALUATE, model_dir, self.defaulted_inputs)
        self._checked = False
        # The model's optional history list (the reference model's `recent_items`), through which
        # explanations re-score a user with one history item left out.
        self.history_input = next((name for name, (values, _) in self._inputs.items() if values.ndim == 2), None)

    def with_history(self, users: list[int], histories: list[list[str]]) -> np.ndarray:
        """[len(users), catalogue] scores of eval users `users`, each scored with its own history list."""
        import tensorflow as tf

        feed = {name: tf.constant(values[users], dtype=dtype) for name, (values, dtype) in self._inputs.items()
                if name != self.history_input}
        width = max([len(history) for history in histories] + [1])
        feed[self.history_input] = tf.constant([list(h) + [""] * (width - len(h)) for h in histories], dtype=tf.string)
        return self._score(**feed)["scores"].numpy()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        feed = {name: tf.constant(values[batch], dtype=dtype) for name, (values, dtype) in self._inputs.items()}
        outputs = self._score(**feed)
        if not self._checked:
            self._check(outputs, len(batch))
        return outputs["scores"].numpy()

    def _check(self, outputs: dict, batch_size: int) -> None:
        shape = tuple(outputs["scores"].shape) if "scores" in outputs else None
        if shape != (batch_size, len(self.catalogue)):
            found = f"'scores' of shape {shape}" if shape is not None else f"outputs {sorted(outputs)}"
            raise ModelContractError(
                f"the '{contract.SIGNATURE_SCORE_CATALOGUE}' signature of '{self.model_dir}' returned {found} for "
                f"{batch_size} users; expected 'scores' of shape [{batch_size}, {len(self.catalogue)}] "
                f"(one score per item of the '{contract.SIGNATURE_CATALOGUE}' signature, in its order)"
            )
        self._checked = True


def _inputs(signature, user_features: pd.DataFrame) -> tuple[dict, list[str]]:
    """Each signature input as a numpy column over eval users, missing values defaulted."""
    _, specs = signature.structured_input_signature
    inputs, defaulted = {}, []
    for name, spec in sorted(specs.items()):
        default = _DEFAULTS.get(spec.dtype.name, 0)
        if spec.shape.rank == 2:  # a list input (e.g. a session's recent items): optional, fed empty
            inputs[name] = (np.full((len(user_features), 0), default, dtype=object if spec.dtype.name == "string"
                                    else spec.dtype.as_numpy_dtype), spec.dtype)
            continue
        if name not in user_features.columns:
            defaulted.append(name)
            column = pd.Series([None] * len(user_features), dtype=object)
        else:
            column = user_features[name]
        if spec.dtype.name == "string":
            values = np.array([_as_bytes(v) if v is not None and not pd.isna(v) else default for v in column], dtype=object)
        else:
            values = pd.to_numeric(column, errors="coerce").fillna(default).to_numpy().astype(spec.dtype.as_numpy_dtype)
        inputs[name] = (values, spec.dtype)
    return inputs, defaulted


def _as_bytes(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
