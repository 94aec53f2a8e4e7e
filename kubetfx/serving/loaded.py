"""One SavedModel under the kubetfx contract, loaded, checked and warmed up, ready to recommend.

A `LoadedModel` never changes once built: a request takes one reference and uses it to the
end, so swapping in a newer model (see `watcher`) can never mix two models in one answer.
"""
import dataclasses
import logging

import numpy as np

from kubetfx.components.common import names
from kubetfx.components.common.errors import ServingError

STRING, INTEGER, NUMBER = "string", "integer", "number"
ITEMS = "items"  # a [batch, m] string input: a list of item ids per instance (e.g. recent items), optional
OPTIONAL_KINDS = (ITEMS,)


@dataclasses.dataclass(frozen=True)
class Batch:
    """Checked instances, column-wise: one value per instance in each feature's list."""

    columns: dict[str, list]
    ks: list[int]
    excludes: list[frozenset[str]]

    def __len__(self) -> int:
        return len(self.ks)


@dataclasses.dataclass(frozen=True)
class Recommendation:
    items: list[str]
    scores: list[float]


class LoadedModel:
    """A served model: its version, the raw features it takes (name → kind) and its catalogue."""

    def __init__(self, model_dir: str, version: str, require_manifest: bool = False):
        import tensorflow as tf

        from kubetfx.components.common import integrity

        self.model_dir, self.version = model_dir, version
        # Before anything of the model runs: files changed since push are refused, named.
        self.manifest = integrity.verify(model_dir, require=require_manifest)
        if self.manifest is None:
            logging.getLogger("kubetfx.serving").warning(
                "the model at '%s' has no %s: its files are not verified (push writes one)", model_dir, integrity.MANIFEST_FILE)
        try:
            self._saved = tf.saved_model.load(model_dir)
        except (OSError, ValueError, tf.errors.OpError) as error:
            raise ServingError(f"the model at '{model_dir}' cannot be loaded as a SavedModel: {error}") from None
        missing = [name for name in names.REQUIRED_SIGNATURES if name not in self._saved.signatures]
        if missing:
            raise ServingError(f"the model at '{model_dir}' lacks the signatures {missing} of the kubetfx contract "
                               f"({', '.join(names.REQUIRED_SIGNATURES)})")
        self._recommend = self._saved.signatures[names.SIGNATURE_RECOMMEND]
        self._score = self._saved.signatures[names.SIGNATURE_SCORE_CATALOGUE]
        self._specs = self._recommend.structured_input_signature[1]
        self.features = {name: ITEMS if spec.shape.rank == 2 and spec.dtype.name == "string" else _kind(spec.dtype)
                         for name, spec in sorted(self._specs.items())}
        catalogue = self._saved.signatures[names.SIGNATURE_CATALOGUE]()["item_ids"].numpy()
        self.catalogue = [item.decode("utf-8") for item in catalogue]
        self._position = {item: index for index, item in enumerate(self.catalogue)}
        self.top_k = self._recommend.structured_outputs["item_ids"].shape[1] or len(self.catalogue)
        # The first call builds TensorFlow's kernels and caches; paying for it here keeps it off
        # the first request after a swap.
        self.recommend(self.example_batch())

    def example_batch(self) -> Batch:
        """One instance of neutral values, for warming up and for health checks."""
        neutral = {STRING: "", INTEGER: 0, NUMBER: 0.0, ITEMS: []}
        return Batch({name: [neutral[kind]] for name, kind in self.features.items()}, [1], [frozenset()])

    def recommend(self, batch: Batch) -> list[Recommendation]:
        """Top-k items per instance, best first, without the items each instance excludes."""
        import tensorflow as tf

        inputs = {name: tf.constant(values, dtype=self._specs[name].dtype) for name, values in batch.columns.items()
                  if self.features[name] != ITEMS}
        for name in (name for name, kind in self.features.items() if kind == ITEMS):
            # Lists padded with "" to the longest; an instance without one sends an empty list.
            lists = batch.columns.get(name) or [[]] * len(batch)
            width = max(len(values) for values in lists)
            inputs[name] = tf.constant([list(values) + [""] * (width - len(values)) for values in lists],
                                       dtype=tf.string, shape=[len(batch), width])
        # The model's own top-K answers as long as it holds k items beyond the exclusions;
        # otherwise the whole catalogue is scored and ranked here.
        if all(k + len(excluded) <= self.top_k for k, excluded in zip(batch.ks, batch.excludes)):
            output = self._recommend(**inputs)
            items, scores = output["item_ids"].numpy(), output["scores"].numpy()
            return [_first_k(row_items, row_scores, k, excluded)
                    for row_items, row_scores, k, excluded in zip(items, scores, batch.ks, batch.excludes)]
        scores = self._score(**inputs)["scores"].numpy()
        return [self._rank(row, k, excluded) for row, k, excluded in zip(scores, batch.ks, batch.excludes)]

    def _rank(self, scores: np.ndarray, k: int, excluded: frozenset[str]) -> Recommendation:
        scores = scores.astype(np.float64)
        scores[[self._position[item] for item in excluded if item in self._position]] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        best = np.argpartition(-scores, k - 1)[:k] if k else np.array([], dtype=int)
        best = best[np.argsort(-scores[best], kind="stable")]
        return Recommendation([self.catalogue[i] for i in best], [float(scores[i]) for i in best])


def _first_k(items: np.ndarray, scores: np.ndarray, k: int, excluded: frozenset[str]) -> Recommendation:
    chosen_items, chosen_scores = [], []
    for item, score in zip(items, scores):
        item = item.decode("utf-8")
        if item in excluded:
            continue
        chosen_items.append(item)
        chosen_scores.append(float(score))
        if len(chosen_items) == k:
            break
    return Recommendation(chosen_items, chosen_scores)


def _kind(dtype) -> str:
    if dtype.is_integer:
        return INTEGER
    if dtype.is_floating:
        return NUMBER
    if dtype.name == "string":
        return STRING
    raise ServingError(f"the model takes a {dtype.name} input; kubetfx serves string, integer and float features only")
