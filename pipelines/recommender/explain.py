"""Why a recommendation was made, measured on the model itself: leave-one-out over the user's history.

For a recommended item, the user's history is given to the model again with one of its items
removed at a time (through the model's optional list input, `recent_items` in the reference
model); the items whose removal lowers the recommended item's score most are the reasons. Each
reason carries that drop (`score_drop`, in the model's own score units), so a reason is a claim
anyone can check: score the history without the named item and the score falls by that much.
Nothing here is learnt or decorated; a model that ignores the history gives no reasons.

The model is only called through a score function (`score(rows, histories) → [rows, catalogue]`),
so that serving (`kubetfx.pipelines.recommender.serving.loaded`) and evaluate's error analysis share the method.

Limits, by design: the history given is what is attributed (a model that falls back to a stored
history when the list is empty cannot be asked about its last item, so a one-item history gives no
reasons); the `max_history` most recent distinct items are tried (cost grows with them: rows =
users × (1 + items tried)); drops are not additive (items may stand in for one another).
"""
import dataclasses
from typing import Callable

import numpy as np

TOP_REASONS = 3  # reasons kept per recommended item
MAX_HISTORY = 30  # most recent distinct history items tried per user
# A drop smaller than this share of the score's size is float noise (float32 sums in another order),
# not a reason.
NOISE = 1e-5
_ROWS_PER_CALL = 1024  # rows per model call, so that memory stays rows × catalogue floats at most

REQUEST_EXPLAIN = "explain"  # v1: a per-instance field; v2: a request parameter
# Proposed, optional: a read-only signature `history(user_id [batch]) → {"item_ids": [batch, m]}`
# (padded with ""), the stored history a request without its own list is scored with. Used when a
# model exports it; without it, only the request's own list can be attributed.
HISTORY_SIGNATURE = "history"
# What the history attributed came from (the `history_source` of an explanation).
FROM_REQUEST, FROM_STORED, NONE = "request", "stored", "none"


@dataclasses.dataclass(frozen=True)
class Reason:
    item: str  # a history item
    score_drop: float  # the recommended item's score with the history, minus its score without this item

    def to_dict(self) -> dict:
        return {"item": self.item, "score_drop": self.score_drop}


@dataclasses.dataclass(frozen=True)
class Explanation:
    """The reasons of each recommended item of one user, in the order of `items`."""

    items: list[str]
    reasons: list[list[Reason]]
    history_source: str  # FROM_REQUEST, FROM_STORED or NONE
    note: str = ""  # why there are no reasons, when there are none

    def to_dict(self) -> dict:
        answer = {"reasons": [[reason.to_dict() for reason in reasons] for reasons in self.reasons],
                  "history_source": self.history_source}
        if self.note:
            answer["note"] = self.note
        return answer


def distinct_recent(history: list[str], known: Callable[[str], bool], limit: int) -> list[str]:
    """The `limit` most recent distinct items of `history` (newest last) the model knows."""
    seen, kept = set(), []
    for item in reversed(history):
        if item and item not in seen and known(item):
            seen.add(item)
            kept.append(item)
    return kept[:limit][::-1]


def leave_one_out(score: Callable[[list[int], list[list[str]]], np.ndarray], histories: list[list[str]],
                  recommended: list[list[int]], catalogue: list[str], top: int = TOP_REASONS,
                  max_history: int = MAX_HISTORY) -> list[list[list[Reason]]]:
    """For each user u, the reasons of each item of `recommended[u]` (catalogue positions).

    `score(rows, histories)` scores the whole catalogue for users `rows` (indices into the
    caller's batch), each with its own history list; `histories[u]` is the full history of user u
    (known items only, newest last). Users whose history has fewer than two items get no reasons.
    """
    rows, lists, plan = [], [], []  # plan[u]: (first row, tried items) or None
    for user, history in enumerate(histories):
        tried = distinct_recent(history, lambda _: True, max_history)
        if len(set(history)) < 2 or not tried:
            plan.append(None)
            continue
        plan.append((len(rows), tried))
        rows.append(user)
        lists.append(list(history))
        for item in tried:
            rows.append(user)
            lists.append([h for h in history if h != item])
    if not rows:
        return [[[] for _ in items] for items in recommended]
    columns = sorted({position for items in recommended for position in items})
    where = {position: index for index, position in enumerate(columns)}
    scores = np.concatenate([score(rows[start:start + _ROWS_PER_CALL], lists[start:start + _ROWS_PER_CALL])[:, columns]
                             for start in range(0, len(rows), _ROWS_PER_CALL)])
    answers = []
    for user, items in enumerate(recommended):
        if plan[user] is None:
            answers.append([[] for _ in items])
            continue
        first, tried = plan[user]
        base = scores[first]
        without = scores[first + 1:first + 1 + len(tried)]
        per_item = []
        for position in items:
            drops = base[where[position]] - without[:, where[position]]
            order = np.argsort(-drops, kind="stable")[:top]
            floor = NOISE * max(1.0, abs(float(base[where[position]])))
            per_item.append([Reason(tried[j], float(drops[j])) for j in order if drops[j] > floor])
        answers.append(per_item)
    return answers
