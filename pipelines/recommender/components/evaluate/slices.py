"""The main metric per group of users and of items, and the gates that judge the candidate."""
import dataclasses

import numpy as np
import pandas as pd

from kubetfx.components.common import names
from kubetfx.pipelines.recommender.components.evaluate.data import ITEM_SLICES, MISSING, USER_SLICES


def user_slices(per_user: dict, user_features: pd.DataFrame, metric: str) -> dict:
    """{family → {group → {"value", "users"}}} for user-level slices: the metric averaged over a group's users."""
    families = {}
    for family in USER_SLICES:
        if family not in user_features.columns:
            continue
        frame = pd.DataFrame({"group": group_labels(user_features[family].to_numpy()), "value": per_user[metric]})
        grouped = frame.groupby("group")["value"].agg(["mean", "size"])
        families[family] = {g: {"value": float(r["mean"]), "users": int(r["size"])} for g, r in grouped.iterrows()}
    return families


def item_slices(hits: np.ndarray, eval_users: np.ndarray, eval_items: np.ndarray, item_groups: pd.DataFrame, k: int) -> dict:
    """{family → {group → {"value", "users"}}}: recall@k over relevant items of each item group,
    averaged over the users with at least one relevant item in it."""
    families = {}
    for family in ITEM_SLICES:
        if family not in item_groups.columns:
            continue
        frame = pd.DataFrame({"user": eval_users, "hit": hits.astype(float),
                              "group": item_groups[family].reindex(eval_items).to_numpy()})
        frame = frame.explode("group").dropna(subset=["group"])
        per_user = frame.groupby(["group", "user"])["hit"].mean().reset_index()
        grouped = per_user.groupby("group")["hit"].agg(["mean", "size"])
        families[family] = {str(g): {"value": float(r["mean"]), "users": int(r["size"])} for g, r in grouped.iterrows()}
    return {f"{family} (recall@{k})": groups for family, groups in families.items()}


def group_label(value) -> str:
    return MISSING if value is None or (np.ndim(value) == 0 and pd.isna(value)) else str(value)


def group_labels(values: np.ndarray) -> np.ndarray:
    """`group_label` of each value, vectorised."""
    series = pd.Series(values, dtype=object)
    return series.where(series.notna(), MISSING).astype(str).to_numpy(dtype=object)


@dataclasses.dataclass
class Gate:
    name: str
    passed: bool
    reason: str
    details: dict = dataclasses.field(default_factory=dict)


def baseline_gate(candidate: float, baseline: float, metric: str, margin: float) -> Gate:
    needed = baseline * (1 + margin)
    passed = candidate > needed
    verb = "beats" if passed else "does not beat"
    return Gate("baseline", passed, f"{metric} {candidate:.4f} {verb} most-popular (the baseline) {baseline:.4f} "
                                    f"by the margin {margin:.0%} (needs > {needed:.4f})",
                {"candidate": candidate, "baseline": baseline, "needed": needed})


def champion_gate(candidate: float, champion: float | None, metric: str, max_regression: float) -> Gate:
    if champion is None:
        return Gate("champion", True, "no blessed model yet: nothing to compare with")
    floor = champion * (1 - max_regression)
    passed = candidate >= floor
    verb = "keeps up with" if passed else "falls behind"
    return Gate("champion", passed, f"{metric} {candidate:.4f} {verb} the blessed model's {champion:.4f} (floor {floor:.4f}, max regression {max_regression:.0%})",
                {"candidate": candidate, "champion": champion, "floor": floor})


def fairness_gate(families: dict, min_ratio: float, min_group_size: int, judged_families=None) -> Gate:
    """Worst over best group of the main metric per slice family; small groups are not judged.

    Only `judged_families` (default: all) can fail the gate; the others (item groups, whose gap
    mostly measures popularity) are reported with their ratio."""
    verdicts, failing = {}, []
    for family, groups in families.items():
        judged = {g: v["value"] for g, v in groups.items() if v["users"] >= min_group_size}
        if len(judged) < 2:
            verdicts[family] = {"ratio": None, "not_judged": sorted(groups)}
            continue
        best, worst = max(judged, key=judged.get), min(judged, key=judged.get)
        ratio = judged[worst] / judged[best] if judged[best] > 0 else 1.0
        verdicts[family] = {"ratio": ratio, "best": best, "worst": worst,
                            "not_judged": sorted(set(groups) - set(judged))}
        if judged_families is not None and family not in judged_families:
            verdicts[family]["reported_only"] = True
        elif min_ratio > 0 and ratio < min_ratio:
            failing.append(f"{family}: '{worst}' gets {ratio:.2f} of '{best}'")
    if min_ratio <= 0:
        return Gate("fairness", True, "reported only (min_fairness_ratio is 0)", verdicts)
    if failing:
        return Gate("fairness", False, f"worst/best group ratio below {min_ratio:.2f}: " + "; ".join(failing), verdicts)
    checked = [f for f, v in verdicts.items() if v["ratio"] is not None and not v.get("reported_only")]
    if not checked:
        return Gate("fairness", True, f"no user slice family has two groups of at least {min_group_size} users: "
                                      "nothing to judge", verdicts)
    return Gate("fairness", True, f"worst/best group ratio is at least {min_ratio:.2f} in {', '.join(checked)}", verdicts)


def threshold_gate(metrics: dict, thresholds: dict) -> Gate:
    if not thresholds:
        return Gate("thresholds", True, "no value thresholds set")
    failing = []
    for metric, minimum in sorted(thresholds.items()):
        value = metrics.get(metric)
        if value is None:
            failing.append(f"{metric} is not computed (known: {', '.join(sorted(metrics))})")
        elif value < minimum:
            failing.append(f"{metric} {value:.4f} < {minimum}")
    if failing:
        return Gate("thresholds", False, "; ".join(failing), dict(thresholds))
    return Gate("thresholds", True, "all thresholds hold: " + ", ".join(f"{m} ≥ {v}" for m, v in sorted(thresholds.items())), dict(thresholds))


def blessing(gates: list[Gate], metric: str, model_dir: str) -> dict:
    return {names.META_BLESSED: all(g.passed for g in gates), "main_metric": metric, "model_dir": model_dir,
            "gates": [dataclasses.asdict(g) for g in gates]}
