"""Evaluate: the gate before push.

The candidate ranks the whole catalogue for every eval user (train items removed) and is
compared with a most-popular baseline computed on the same split and with the last blessed
model (the champion, found through the serving root's pointer: no KFP resolver needed).
TFMA evaluates the scored eval examples per slice. Gates turn all of that into a blessing.
"""
import dataclasses

import numpy as np

from kubetfx.components.common import fs, names, serving, timing
from kubetfx.components.evaluate import data as eval_data
from kubetfx.components.evaluate import ranking, report, scoring, slices, tfma_metrics

WORST_USERS = 10
WORST_SLICES = 8


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    top_k: tuple[int, ...] = (10,)
    main_metric: str = "ndcg@10"
    baseline_margin: float = 0.0
    max_regression: float = 0.0
    min_fairness_ratio: float = 0.0
    min_group_size: int = 20
    thresholds: dict = dataclasses.field(default_factory=dict)
    negatives_per_positive: int = 4
    tfma_sample_size: int = 5_000
    run_tfma: bool = True
    seed: int = 0


def run(model_dir: str, examples_uri: str, evaluation_uri: str, blessing_uri: str, report_path: str,
        serving_root: str = "", config: EvaluateConfig = EvaluateConfig()) -> dict:
    """Evaluates, judges and reports; returns headline metrics, the verdict and the gates."""
    watch = timing.Stopwatch()
    top_k = tuple(sorted({int(k) for k in config.top_k}))
    with timing.stage(names.TASK_EVALUATE, "reading the splits"):
        data = eval_data.load(examples_uri)
    with timing.stage(names.TASK_EVALUATE, f"ranking the catalogue for {len(data.interactions.users):,} users"):
        scorer = scoring.CatalogueScorer(model_dir, data.user_features)
        candidate = ranking.rank(scorer, scorer.catalogue, data.interactions, top_k)
        baseline = ranking.rank(ranking.popularity_scorer(scorer.catalogue, data.interactions), scorer.catalogue, data.interactions, top_k)
    champion = _champion(serving_root, data, top_k)
    tfma_slices = _tfma(scorer, data, config, evaluation_uri) if config.run_tfma else {}
    sliced = {**slices.user_slices(candidate.per_user, data.user_features, config.main_metric),
              **slices.item_slices(candidate.hits, data.interactions.eval_users, data.interactions.eval_items, data.item_groups, max(top_k))}
    gates = [
        slices.baseline_gate(candidate.summary[config.main_metric], baseline.summary[config.main_metric], config.main_metric, config.baseline_margin),
        slices.champion_gate(candidate.summary[config.main_metric], champion.summary[config.main_metric] if champion else None,
                             config.main_metric, config.max_regression),
        slices.fairness_gate(sliced, config.min_fairness_ratio, config.min_group_size),
        slices.threshold_gate({**candidate.summary, "auc": tfma_slices.get("", {}).get("auc")}, dict(config.thresholds)),
    ]
    result = {
        "main_metric": config.main_metric,
        "candidate": candidate.summary,
        "baseline": baseline.summary,
        "champion": champion.summary if champion else None,
        "tfma": tfma_slices,
        "slices": sliced,
        "worst_slices": _worst_slices(sliced, config.min_group_size),
        "worst_users": _worst_users(candidate, scorer.catalogue, data, config.main_metric),
        "blessing": slices.blessing(gates, config.main_metric, model_dir),
        "users": len(data.interactions.users),
        "catalogue": len(scorer.catalogue),
    }
    fs.write_json(fs.join(evaluation_uri, names.EVAL_RESULT_FILE), result)
    fs.write_json(fs.join(blessing_uri, names.BLESSING_FILE), result["blessing"])
    fs.write_text(report_path, report.render(result))
    return {
        "metrics": _headline(result),
        names.META_BLESSED: result["blessing"][names.META_BLESSED],
        "gates": result["blessing"]["gates"],
        names.META_WALL_SECONDS: watch.seconds,
    }


def _tfma(scorer, data, config: EvaluateConfig, evaluation_uri: str) -> dict:
    with timing.stage(names.TASK_EVALUATE, "TFMA over the scored eval examples"):
        table = tfma_metrics.scored_examples(scorer, data, scorer.catalogue, config.negatives_per_positive,
                                             config.seed, config.tfma_sample_size)
        return tfma_metrics.evaluate(table, [*eval_data.USER_SLICES, *eval_data.ITEM_SLICES], fs.join(evaluation_uri, "tfma"))


def _champion(serving_root: str, data, top_k) -> ranking.Ranking | None:
    latest = serving.read_latest(serving_root)
    if latest is None:
        return None
    with timing.stage(names.TASK_EVALUATE, f"ranking with the blessed model {latest['model_dir']}"):
        scorer = scoring.CatalogueScorer(latest["model_dir"], data.user_features)
        return ranking.rank(scorer, scorer.catalogue, data.interactions, top_k)


def _headline(result: dict) -> dict:
    headline = dict(result["candidate"])
    headline.update({f"baseline_{k}": v for k, v in result["baseline"].items()})
    if result["champion"]:
        headline.update({f"champion_{k}": v for k, v in result["champion"].items()})
    for metric in ("auc", "auc_precision_recall"):
        value = result["tfma"].get("", {}).get(metric)
        if value is not None:
            headline[metric] = value
    return headline


def _worst_slices(sliced: dict, min_group_size: int) -> list[dict]:
    rows = [{"family": family, "group": group, **values}
            for family, groups in sliced.items() for group, values in groups.items() if values["users"] >= min_group_size]
    return sorted(rows, key=lambda r: r["value"])[:WORST_SLICES]


def _worst_users(candidate: ranking.Ranking, catalogue: np.ndarray, data, metric: str) -> list[dict]:
    """The users with the most eval items among those the model serves worst."""
    interactions = data.interactions
    relevant = np.bincount(interactions.eval_users, minlength=len(interactions.users))
    order = np.lexsort((-relevant, candidate.per_user[metric]))[:WORST_USERS]
    return [{
        "user_id": str(interactions.users[u]),
        "metric": float(candidate.per_user[metric][u]),
        "recommended": [str(i) for i in catalogue[candidate.top_items[u, :10]]],
        "chosen": [str(i) for i in interactions.eval_items[interactions.eval_users == u][:10]],
    } for u in order]
