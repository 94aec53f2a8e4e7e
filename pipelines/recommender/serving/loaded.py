"""One SavedModel under the kubetfx contract, loaded, checked and warmed up, ready to recommend.

A `LoadedModel` never changes once built: a request takes one reference and uses it to the
end, so swapping in a newer model (see `watcher`) can never mix two models in one answer.
"""
import dataclasses
import logging

import numpy as np

from kubetfx.components.common.errors import ModelContractError, ServingError
from kubetfx.pipelines.recommender import contract, explain

STRING, INTEGER, NUMBER = "string", "integer", "number"
ITEMS = "items"  # a [batch, m] string input: a list of item ids per instance (e.g. recent items), optional
OPTIONAL_KINDS = (ITEMS,)


@dataclasses.dataclass(frozen=True)
class Batch:
    """Checked instances, column-wise: one value per instance in each feature's list."""

    columns: dict[str, list]
    ks: list[int]
    excludes: list[frozenset[str]]
    explain: tuple[bool, ...] = ()  # per instance: whether the answer carries its reasons (none: no instance)

    def __len__(self) -> int:
        return len(self.ks)

    def wants_explanations(self) -> bool:
        return any(self.explain)


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
            logging.getLogger("kubetfx.pipelines.recommender.serving").warning(
                "the model at '%s' has no %s: its files are not verified (push writes one)", model_dir, integrity.MANIFEST_FILE)
        try:
            self._saved = tf.saved_model.load(model_dir)
        except (OSError, ValueError, tf.errors.OpError) as error:
            raise ServingError(f"the model at '{model_dir}' cannot be loaded as a SavedModel: {error}") from None
        try:
            contract.require_signatures(self._saved, model_dir)
        except ModelContractError as error:
            raise ServingError(str(error)) from None
        self._recommend = self._saved.signatures[contract.SIGNATURE_RECOMMEND]
        self._score = self._saved.signatures[contract.SIGNATURE_SCORE_CATALOGUE]
        self._specs = self._recommend.structured_input_signature[1]
        self.features = {name: ITEMS if spec.shape.rank == 2 and spec.dtype.name == "string" else _kind(spec.dtype)
                         for name, spec in sorted(self._specs.items())}
        catalogue = self._saved.signatures[contract.SIGNATURE_CATALOGUE]()["item_ids"].numpy()
        self.catalogue = [item.decode("utf-8") for item in catalogue]
        self._position = {item: index for index, item in enumerate(self.catalogue)}
        self.top_k = self._recommend.structured_outputs["item_ids"].shape[1] or len(self.catalogue)
        # Explanations re-score the history through the model's list input; the stored history a
        # request without one falls back to is read through the optional `history` signature.
        self.history_input = next((name for name, kind in self.features.items() if kind == ITEMS), None)
        self._history = self._saved.signatures.get(explain.HISTORY_SIGNATURE) if self.history_input else None
        # The first call builds TensorFlow's kernels and caches; paying for it here keeps it off
        # the first request after a swap.
        self.recommend(self.example_batch())

    def example_batch(self) -> Batch:
        """One instance of neutral values, for warming up and for health checks."""
        neutral = {STRING: "", INTEGER: 0, NUMBER: 0.0, ITEMS: []}
        return Batch({name: [neutral[kind]] for name, kind in self.features.items()}, [1], [frozenset()])

    def _inputs(self, columns: dict[str, list], count: int) -> dict:
        import tensorflow as tf

        inputs = {name: tf.constant(values, dtype=self._specs[name].dtype) for name, values in columns.items()
                  if self.features[name] != ITEMS}
        for name in (name for name, kind in self.features.items() if kind == ITEMS):
            # Lists padded with "" to the longest; an instance without one sends an empty list.
            lists = columns.get(name) or [[]] * count
            width = max(len(values) for values in lists)
            inputs[name] = tf.constant([list(values) + [""] * (width - len(values)) for values in lists],
                                       dtype=tf.string, shape=[count, width])
        return inputs

    def recommend(self, batch: Batch) -> list[Recommendation]:
        """Top-k items per instance, best first, without the items each instance excludes."""
        inputs = self._inputs(batch.columns, len(batch))
        # The model's own top-K answers as long as it holds k items beyond the exclusions;
        # otherwise the whole catalogue is scored and ranked here.
        if all(k + len(excluded) <= self.top_k for k, excluded in zip(batch.ks, batch.excludes)):
            output = self._recommend(**inputs)
            items, scores = output["item_ids"].numpy(), output["scores"].numpy()
            return [_first_k(row_items, row_scores, k, excluded)
                    for row_items, row_scores, k, excluded in zip(items, scores, batch.ks, batch.excludes)]
        scores = self._score(**inputs)["scores"].numpy()
        return [self._rank(row, k, excluded) for row, k, excluded in zip(scores, batch.ks, batch.excludes)]

    def explain(self, batch: Batch, answers: list[Recommendation]) -> list[explain.Explanation | None]:
        """The reasons of each answer whose instance asked (None for the others): the history items
        whose removal lowers each recommended item's score most (`pipelines/recommender/explain.py`).

        The history attributed is the instance's own list (`recent_items`) when it names an item the
        model knows, else the stored history the model exports through a `history` signature; a model
        with neither has nothing to attribute, and says so in `note`."""
        wanted = [index for index, asked in enumerate(batch.explain) if asked]
        results: list[explain.Explanation | None] = [None] * len(batch)
        if not wanted:
            return results
        if self.history_input is None:
            for index in wanted:
                results[index] = explain.Explanation(answers[index].items, [[] for _ in answers[index].items], explain.NONE,
                                                     "the model takes no history list, so none can be attributed")
            return results
        given = batch.columns.get(self.history_input) or [[]] * len(batch)
        histories, sources = self._histories(batch, wanted, given)
        rows = {name: [values[index] for index in wanted] for name, values in batch.columns.items() if name != self.history_input}

        def score(members: list[int], lists: list[list[str]]) -> np.ndarray:
            columns = {name: [values[m] for m in members] for name, values in rows.items()}
            columns[self.history_input] = lists
            return self._score(**self._inputs(columns, len(members)))["scores"].numpy()

        recommended = [[self._position[item] for item in answers[index].items] for index in wanted]
        reasons = explain.leave_one_out(score, histories, recommended, self.catalogue)
        for slot, index in enumerate(wanted):
            note = "" if sources[slot] != explain.NONE else (
                "no history to attribute: send 'recent_items' (the model exports no stored history)")
            if sources[slot] != explain.NONE and len(set(histories[slot])) < 2:
                note = "fewer than two known history items: removing one would leave none to compare with"
            results[index] = explain.Explanation(answers[index].items, reasons[slot], sources[slot], note)
        return results

    def _histories(self, batch: Batch, wanted: list[int], given: list) -> tuple[list[list[str]], list[str]]:
        """Each wanted instance's history (known items, newest last) and where it came from."""
        histories, sources, stored_for = [], [], []
        for slot, index in enumerate(wanted):
            known = [item for item in given[index] if item in self._position]
            histories.append(known)
            sources.append(explain.FROM_REQUEST if known else explain.NONE)
            if not known and self._history is not None:
                stored_for.append(slot)
        if stored_for:
            import tensorflow as tf

            spec = self._history.structured_input_signature[1]
            feed = {name: tf.constant([batch.columns[name][wanted[slot]] for slot in stored_for], dtype=spec[name].dtype)
                    for name in spec}
            stored = self._history(**feed)["item_ids"].numpy()
            for slot, row in zip(stored_for, stored):
                histories[slot] = [item for item in (v.decode("utf-8") for v in row) if item in self._position]
                sources[slot] = explain.FROM_STORED
        return histories, sources

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
