"""Top-K metrics over the whole catalogue, vectorised over users in batches.

For each eval user, every catalogue item is scored, the items the user met in train are
removed, and the top K are compared with the items the user went on to choose in eval
(binary relevance). Definitions follow Microsoft Recommenders' evaluation, so figures compare
with its published MovieLens table: MAP divides by the number of relevant items.
"""
import dataclasses
from typing import Callable

import numpy as np

BATCH_USERS = 1024


@dataclasses.dataclass
class Interactions:
    """Eval users and the (user, item) pairs of train and eval, as integer indices."""

    users: np.ndarray          # eval user ids (strings), index = user index
    train_users: np.ndarray    # user index of each train pair (only eval users)
    train_items: np.ndarray    # item id of each train pair
    eval_users: np.ndarray     # user index of each eval pair
    eval_items: np.ndarray     # item id of each eval pair
    item_train_counts: dict    # item id → train interactions (all users)
    train_user_count: int


@dataclasses.dataclass
class Ranking:
    """One recommender's top-K lists and per-user figures."""

    top_items: np.ndarray      # [users, max K] catalogue indices, best first
    per_user: dict             # metric name → [users] values
    summary: dict              # metric name → mean over users (and catalogue-wide figures)
    hits: np.ndarray           # [eval pairs] whether each eval pair was recommended in the top K (largest K)


def rank(scorer: Callable[[np.ndarray], np.ndarray], catalogue: np.ndarray, data: Interactions,
         top_k: tuple[int, ...]) -> Ranking:
    """Ranks the catalogue for every eval user; `scorer(user_indices)` returns [batch, catalogue] scores."""
    k_max = min(max(top_k), len(catalogue))
    position = {item: index for index, item in enumerate(catalogue)}
    seen_keys = pair_keys(data.train_users, to_index(data.train_items, position), len(catalogue))
    relevant_keys = pair_keys(data.eval_users, to_index(data.eval_items, position), len(catalogue))
    top = np.empty((len(data.users), k_max), dtype=np.int64)
    for start in range(0, len(data.users), BATCH_USERS):
        batch = np.arange(start, min(start + BATCH_USERS, len(data.users)))
        scores = np.array(scorer(batch), dtype=np.float64, order="C", copy=True)
        _mask_seen(scores, batch, seen_keys, len(catalogue))
        top[batch] = _top_k(scores, k_max)
    hit_matrix = np.isin(top + np.arange(len(data.users))[:, None] * len(catalogue), relevant_keys)
    relevant_counts = np.bincount(data.eval_users, minlength=len(data.users))
    per_user = _per_user_metrics(hit_matrix, relevant_counts, top_k)
    summary = {name: float(values.mean()) for name, values in per_user.items()}
    summary.update(_catalogue_figures(top, catalogue, data, top_k))
    recommended_keys = (top + np.arange(len(data.users))[:, None] * len(catalogue)).ravel()
    hits = np.isin(relevant_keys, recommended_keys) & (relevant_keys >= 0)
    return Ranking(top_items=top, per_user=per_user, summary=summary, hits=hits)


def to_index(items: np.ndarray, position: dict) -> np.ndarray:
    return np.fromiter((position.get(item, -1) for item in items), dtype=np.int64, count=len(items))


def pair_keys(users: np.ndarray, items: np.ndarray, catalogue_size: int) -> np.ndarray:
    """One integer per (user, catalogue item) pair; pairs with items outside the catalogue get -1."""
    keys = users.astype(np.int64) * catalogue_size + items
    return np.where(items >= 0, keys, -1)


def _mask_seen(scores: np.ndarray, batch: np.ndarray, seen_keys: np.ndarray, catalogue_size: int) -> None:
    low, high = batch[0] * catalogue_size, (batch[-1] + 1) * catalogue_size
    in_batch = seen_keys[(seen_keys >= low) & (seen_keys < high)] - low
    np.put(scores, in_batch, -np.inf)  # in place, whatever the memory layout


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    if k < scores.shape[1]:
        candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        candidates = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    order = np.argsort(-np.take_along_axis(scores, candidates, axis=1), axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1)


def _per_user_metrics(hits: np.ndarray, relevant: np.ndarray, top_k: tuple[int, ...]) -> dict:
    metrics = {}
    relevant = np.maximum(relevant, 1)  # every eval user has at least one relevant item
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    for k in top_k:
        at_k = hits[:, :k].astype(np.float64)
        count = at_k.sum(axis=1)
        ideal = np.cumsum(discounts)[np.minimum(relevant, k) - 1]
        precision_at_rank = np.cumsum(at_k, axis=1) / np.arange(1, at_k.shape[1] + 1)
        metrics[f"precision@{k}"] = count / k
        metrics[f"recall@{k}"] = count / relevant
        metrics[f"ndcg@{k}"] = (at_k * discounts[:at_k.shape[1]]).sum(axis=1) / ideal
        metrics[f"map@{k}"] = (precision_at_rank * at_k).sum(axis=1) / relevant
        metrics[f"hit_rate@{k}"] = (count > 0).astype(np.float64)
    return metrics


def _catalogue_figures(top: np.ndarray, catalogue: np.ndarray, data: Interactions, top_k: tuple[int, ...]) -> dict:
    counts = np.array([data.item_train_counts.get(item, 0) for item in catalogue], dtype=np.float64)
    figures = {}
    for k in top_k:
        recommended = top[:, :k]
        figures[f"coverage@{k}"] = len(np.unique(recommended)) / len(catalogue)
        figures[f"mean_popularity@{k}"] = float(counts[recommended].mean() / max(data.train_user_count, 1))
    return figures


def popularity_scorer(catalogue: np.ndarray, data: Interactions) -> Callable[[np.ndarray], np.ndarray]:
    """The most-popular baseline: train counts, ties broken by item id (stable, deterministic)."""
    counts = np.array([data.item_train_counts.get(item, 0) for item in catalogue], dtype=np.float64)
    tie_break = np.argsort(np.argsort(catalogue, kind="stable"), kind="stable")
    scores = counts * (len(catalogue) + 1) - tie_break
    return lambda batch: np.broadcast_to(scores, (len(batch), len(catalogue)))


def percentile_ranks(scores: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """For each (row, column), the share of the row's items scored strictly below it (1.0 = top)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :].repeat(scores.shape[0], 0), axis=1)
    return 1.0 - ranks[rows, columns] / max(scores.shape[1] - 1, 1)
