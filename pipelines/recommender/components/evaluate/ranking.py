"""Top-K metrics over the whole catalogue, vectorised over users in batches.

For each eval user, every catalogue item is scored, the items the user met in train are
removed, and the top K are compared with the items the user went on to choose in eval
(binary relevance). Definitions follow Microsoft Recommenders' evaluation, so figures compare
with its published MovieLens table: MAP divides by the number of relevant items.
"""
import dataclasses
from typing import Callable

import numpy as np
import pandas as pd

BATCH_USERS = 1024
BATCH_SCORES = 1 << 25  # scores per batch of users (128 MB in float32)
MIN_BATCH_USERS = 64
# Columns per block of `_top_k`'s first pass: each row's best K lie in its K blocks with the highest maxima.
TOP_K_BLOCK = 64
# How the top K are found, as the evaluation records it: exactly, so none of the true top K is lost.
SEARCH = {"method": "exact: every item scored, two-pass top-K selection", "recall": 1.0}
PER_USER_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")
CATALOGUE_METRICS = ("coverage", "mean_popularity")
_PAIR_CHUNK = 500_000


@dataclasses.dataclass
class Interactions:
    """Eval users and the (user, item) pairs of train and eval; users are indices, items ids."""

    users: np.ndarray          # eval user ids (strings), index = user index
    train_users: np.ndarray    # user index of each train pair (only eval users)
    train_items: np.ndarray    # item id of each train pair
    eval_users: np.ndarray     # user index of each eval pair (repeated pairs count once)
    eval_items: np.ndarray     # item id of each eval pair
    item_train_counts: dict    # item id → train interactions (all users)
    train_user_count: int


@dataclasses.dataclass
class Ranking:
    """One recommender's top-K lists and per-user figures."""

    top_items: np.ndarray      # [users, max K] catalogue indices, best first; -1 where nothing is left to recommend
    per_user: dict             # metric name → [users] values
    summary: dict              # metric name → mean over users (and catalogue-wide figures)
    eval_rank: np.ndarray      # [eval pairs] 0-based rank of each eval pair's item in the top list, -1 if absent

    @property
    def hits(self) -> np.ndarray:
        """Whether each eval pair was recommended in the top max-K."""
        return self.eval_rank >= 0

    def hits_at(self, k: int) -> np.ndarray:
        return (self.eval_rank >= 0) & (self.eval_rank < k)


def parse_metric(name: str) -> tuple[str, int] | None:
    """'ndcg@10' → ('ndcg', 10); None when `name` is not a top-K metric."""
    base, _, k = name.partition("@")
    if base in (*PER_USER_METRICS, *CATALOGUE_METRICS) and k.isdigit() and int(k) > 0:
        return base, int(k)
    return None


def rank(scorer: Callable[[np.ndarray], np.ndarray], catalogue: np.ndarray, data: Interactions,
         top_k: tuple[int, ...], on_batch: Callable[[int, int, np.ndarray], None] | None = None) -> Ranking:
    """Ranks the catalogue for every eval user; `scorer(user_indices)` returns [batch, catalogue]
    scores, a new array each call (a writable one is reused: train items are set to -inf in it).

    Exact: every catalogue item is scored for every user (the model's matrix product, a block of
    users at a time) and the top K chosen from all of them (`_top_k`), so no relevant item is
    missed as an approximate index would (recall of the true top K: 1.0).

    `on_batch(start, stop, scores)`, when given, sees each batch's raw scores (before train
    items are removed), so that other figures need not score the users a second time."""
    pairs = _Pairs(catalogue, data)
    size, k = pairs.size, min(max(top_k), pairs.size)
    top = np.full((len(data.users), max(top_k)), -1, dtype=np.int64)
    batch = batch_users(size)
    for start in range(0, len(data.users), batch):
        stop = min(start + batch, len(data.users))
        raw = np.asarray(scorer(np.arange(start, stop)))
        if on_batch is not None:
            on_batch(start, stop, raw)
        scores = _writable(raw)
        low, high = np.searchsorted(pairs.seen, [start * size, stop * size])
        scores.reshape(-1)[pairs.seen[low:high] - start * size] = -np.inf
        top[start:stop, :k] = _top_k(scores, k)
    return _judge(top, pairs, catalogue, data, top_k)


def batch_users(catalogue_size: int) -> int:
    """Users scored at once: BATCH_USERS, fewer when the catalogue is large, so that a batch's
    scores (and the model's intermediate copies of them) stay near BATCH_SCORES floats."""
    return int(min(BATCH_USERS, max(MIN_BATCH_USERS, BATCH_SCORES // max(catalogue_size, 1))))


def _writable(raw: np.ndarray) -> np.ndarray:
    """The scores as a float array train items can be removed from in place: the scorer's own
    array when it can be (a copy of a large batch costs as much as choosing its top K)."""
    if raw.dtype in (np.float32, np.float64) and raw.flags.writeable and raw.flags.c_contiguous:
        return raw
    return np.array(raw, dtype=np.result_type(raw.dtype, np.float32), order="C")


def rank_by_popularity(catalogue: np.ndarray, data: Interactions, top_k: tuple[int, ...]) -> Ranking:
    """The most-popular baseline (as `rank(popularity_scorer(...))`, without scoring the whole
    catalogue per user: each user gets the first items of one global order that they have not met)."""
    pairs = _Pairs(catalogue, data)
    size, k = pairs.size, min(max(top_k), pairs.size)
    order = popularity_order(catalogue, data)
    seen_per_user = np.bincount(pairs.seen // max(size, 1), minlength=len(data.users))
    top = np.full((len(data.users), max(top_k)), -1, dtype=np.int64)
    for start in range(0, len(data.users), BATCH_USERS):
        stop = min(start + BATCH_USERS, len(data.users))
        candidates = order[:min(size, k + int(seen_per_user[start:stop].max(initial=0)))]
        met = contains(pairs.seen, np.arange(start, stop, dtype=np.int64)[:, None] * size + candidates)
        first = np.argsort(met, axis=1, kind="stable")[:, :k]  # unmet candidates first, in popularity order
        top[start:stop, :k] = np.where(np.take_along_axis(met, first, axis=1), -1, candidates[first])
    return _judge(top, pairs, catalogue, data, top_k)


class _Pairs:
    """The (user, catalogue item) pairs of train and eval as sorted integer keys."""

    def __init__(self, catalogue: np.ndarray, data: Interactions):
        self.size = len(catalogue)
        position = catalogue_index(catalogue)
        self.eval_items = to_index(data.eval_items, position)
        self.seen = sorted_unique(pair_keys(data.train_users, to_index(data.train_items, position), self.size))
        self.relevant = sorted_unique(pair_keys(data.eval_users, self.eval_items, self.size))
        # Relevant items per user, those outside the catalogue included, each counted once.
        codes, uniques = pd.factorize(pd.Index(data.eval_items))
        distinct = sorted_unique(np.asarray(data.eval_users, dtype=np.int64) * max(len(uniques), 1) + codes)
        self.relevant_counts = np.bincount(distinct // max(len(uniques), 1), minlength=len(data.users))


def _judge(top: np.ndarray, pairs: _Pairs, catalogue: np.ndarray, data: Interactions, top_k: tuple[int, ...]) -> Ranking:
    users = len(data.users)
    keys = top + np.arange(users, dtype=np.int64)[:, None] * pairs.size
    hit_matrix = contains(pairs.relevant, keys) & (top >= 0)
    per_user = _per_user_metrics(hit_matrix, pairs.relevant_counts, top_k)
    summary = {name: float(values.mean()) for name, values in per_user.items()}
    summary.update(_catalogue_figures(top, catalogue, data, top_k))
    return Ranking(top_items=top, per_user=per_user, summary=summary,
                   eval_rank=_eval_rank(top, data.eval_users, pairs.eval_items))


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """The distinct non-negative keys, sorted (a sort, cheaper than np.unique's hashing here)."""
    keys = np.sort(keys[keys >= 0])
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys


def contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each of `keys` is in `sorted_keys` (sorted), by binary search."""
    if len(sorted_keys) == 0:
        return np.zeros(keys.shape, dtype=bool)
    index = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[index] == keys


def catalogue_index(catalogue: np.ndarray) -> pd.Index:
    return pd.Index(catalogue)


def to_index(items: np.ndarray, position: pd.Index | dict) -> np.ndarray:
    """Each item's catalogue index, -1 for items outside the catalogue."""
    if isinstance(position, dict):
        position = pd.Index(list(position))
    if len(items) == 0:
        return np.zeros(0, dtype=np.int64)
    return position.get_indexer(pd.Index(items)).astype(np.int64)


def pair_keys(users: np.ndarray, items: np.ndarray, catalogue_size: int) -> np.ndarray:
    """One integer per (user, catalogue item) pair; pairs with items outside the catalogue get -1."""
    keys = np.asarray(users, dtype=np.int64) * catalogue_size + items
    return np.where(items >= 0, keys, -1)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The k best columns of each row, best first (ties by column); -1 for removed (-inf) items.

    Exact, in two passes instead of a selection over the whole row: the columns are dealt into
    blocks of TOP_K_BLOCK (block j: columns j, j + blocks, j + 2·blocks, ..., so that the block
    maxima are an elementwise maximum of contiguous slices), and the selection runs over the
    columns of the k blocks with the highest maxima only, plus the few columns left over. Those
    hold every one of the row's k best: the k maxima are k values at least the k-th highest
    maximum, so the row's k-th best is no lower, and no other block reaches it. Rows where that
    does not hold as stated (a tie at the k-th maximum, a NaN) are ranked over the whole row."""
    rows, width = scores.shape
    blocks = width // TOP_K_BLOCK
    if blocks < 4 * k:
        return _top_k_rows(scores, k)
    main = blocks * TOP_K_BLOCK
    maxima = scores[:, :main].reshape(rows, TOP_K_BLOCK, blocks).max(axis=1)
    chosen = np.argpartition(maxima, blocks - k, axis=1)[:, -k:]
    kth_maximum = np.take_along_axis(maxima, chosen, axis=1).min(axis=1)
    columns = (chosen[:, :, None] + blocks * np.arange(TOP_K_BLOCK)).reshape(rows, -1)
    columns = np.concatenate([columns, np.broadcast_to(np.arange(main, width), (rows, width - main))], axis=1)
    values = np.take_along_axis(scores, columns, axis=1)
    top = _select(values, columns, k)
    unsure = np.isnan(values).any(axis=1) | ((maxima >= kth_maximum[:, None]).sum(axis=1) > k)
    if unsure.any():
        top[unsure] = _top_k_rows(scores[unsure], k)
    return top


def _top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """`_top_k` by a selection over whole rows, NaN scores ranked as removed items."""
    scores = np.where(np.isnan(scores), -np.inf, scores)
    return _select(scores, np.broadcast_to(np.arange(scores.shape[1]), scores.shape), k)


def _select(values: np.ndarray, columns: np.ndarray, k: int) -> np.ndarray:
    """Of each row's (value, column) pairs, the k best columns, best first (ties by column); -1 for -inf values."""
    if k < values.shape[1]:
        part = np.argpartition(values, values.shape[1] - k, axis=1)[:, -k:]
        best = np.take_along_axis(values, part, axis=1)
        kth = best.min(axis=1, keepdims=True)
        # The selection keeps any of the columns tied at the k-th value: rows with such a tie left
        # out are sorted whole, so that the lower columns win it.
        tied = ((values == kth).sum(axis=1) > (best == kth).sum(axis=1)) & (kth[:, 0] > -np.inf)
        part[tied] = np.lexsort((columns[tied], -values[tied]), axis=-1)[:, :k]
        values, columns = np.take_along_axis(values, part, axis=1), np.take_along_axis(columns, part, axis=1)
    order = np.lexsort((columns, -values), axis=-1)
    top = np.take_along_axis(columns, order, axis=1)
    return np.where(np.take_along_axis(values, order, axis=1) > -np.inf, top, -1)


def _per_user_metrics(hits: np.ndarray, relevant: np.ndarray, top_k: tuple[int, ...]) -> dict:
    metrics = {}
    relevant = np.maximum(relevant, 1)  # every eval user has at least one relevant item
    ranks = np.arange(1, hits.shape[1] + 1)
    discounts = 1.0 / np.log2(ranks + 1)
    ideal_dcg = np.cumsum(discounts)
    for k in top_k:
        at_k = hits[:, :k].astype(np.float64)
        count = at_k.sum(axis=1)
        precision_at_rank = np.cumsum(at_k, axis=1) / ranks[:k]
        metrics[f"precision@{k}"] = count / k
        metrics[f"recall@{k}"] = count / relevant
        metrics[f"ndcg@{k}"] = (at_k * discounts[:k]).sum(axis=1) / ideal_dcg[np.minimum(relevant, k) - 1]
        metrics[f"map@{k}"] = (precision_at_rank * at_k).sum(axis=1) / relevant
        metrics[f"hit_rate@{k}"] = (count > 0).astype(np.float64)
    return metrics


def item_counts(catalogue: np.ndarray, data: Interactions) -> np.ndarray:
    """Train interactions of each catalogue item."""
    counts = pd.Series(data.item_train_counts, dtype=np.float64)
    return counts.reindex(catalogue_index(catalogue)).fillna(0.0).to_numpy()


def _catalogue_figures(top: np.ndarray, catalogue: np.ndarray, data: Interactions, top_k: tuple[int, ...]) -> dict:
    counts = item_counts(catalogue, data)
    figures = {}
    for k in top_k:
        recommended = top[:, :k]
        recommended = recommended[recommended >= 0]
        figures[f"coverage@{k}"] = len(np.unique(recommended)) / max(len(catalogue), 1)
        mean_count = counts[recommended].mean() if len(recommended) else 0.0
        figures[f"mean_popularity@{k}"] = float(mean_count / max(data.train_user_count, 1))
    return figures


def _eval_rank(top: np.ndarray, eval_users: np.ndarray, eval_items: np.ndarray) -> np.ndarray:
    ranks = np.full(len(eval_users), -1, dtype=np.int64)
    for start in range(0, len(eval_users), _PAIR_CHUNK):
        rows = slice(start, start + _PAIR_CHUNK)
        match = (top[eval_users[rows]] == eval_items[rows, None]) & (eval_items[rows, None] >= 0)
        ranks[rows] = np.where(match.any(axis=1), match.argmax(axis=1), -1)
    return ranks


def popularity_order(catalogue: np.ndarray, data: Interactions) -> np.ndarray:
    """Catalogue indices by train count, most popular first; ties broken by item id."""
    return np.lexsort((np.asarray(catalogue).astype(str), -item_counts(catalogue, data)))


def popularity_scorer(catalogue: np.ndarray, data: Interactions) -> Callable[[np.ndarray], np.ndarray]:
    """The most-popular baseline as a scorer: train counts, ties broken by item id."""
    scores = np.empty(len(catalogue), dtype=np.float32)
    scores[popularity_order(catalogue, data)] = np.arange(len(catalogue), 0, -1)  # exact in float32 up to 16M items
    return lambda batch: np.broadcast_to(scores, (len(batch), len(catalogue)))


def percentile_ranks(scores: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """For each (row, column), the share of the row's other items scored strictly below it (1.0 = top).

    Counts per requested pair (O(pairs × catalogue)) rather than sorting whole rows."""
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), BATCH_USERS):
        r, c = rows[start:start + BATCH_USERS], columns[start:start + BATCH_USERS]
        block = scores[r]
        own = block[np.arange(len(r)), c]
        out[start:start + BATCH_USERS] = (block < own[:, None]).sum(axis=1)
    return out / max(scores.shape[1] - 1, 1)
