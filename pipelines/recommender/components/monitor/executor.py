"""Monitor: is the data the model meets still the data it learned from?

A batch (new interaction data, or serving's request log) is compared with training:
- per feature, the distance between validate's statistics of training and TFDV's of the batch
  (Jensen-Shannon divergence for numbers, L-infinity for categories, measured by TFDV's drift and
  skew comparators), judged against that feature's threshold; only features with a threshold are
  judged, as in TFDV;
- the share of rows whose user, and whose item, training never saw;
- for a request log, training-serving feature skew: requests whose features disagree with
  training's values for the same user (users are matched through the log's keyed hash).

Verdict: `drift` (the world moved: new interaction data drifted, or unknown users or items are
too many) asks for retraining, which starts when a `Retrainer` is given and the batch is new
interaction data to train on; `skew` (serving feeds the model other values than training did)
asks for a fix in the serving path, which retraining would not bring; otherwise `ok`.
"""
import html

import numpy as np

from kubetfx.components.common import fs, names, reports, timing
from kubetfx.components.common.errors import MonitorError
from kubetfx.pipelines.recommender.components.monitor import concept, drift, sources
from kubetfx.pipelines.recommender.components.monitor.config import MonitorConfig
from kubetfx.pipelines.recommender.components.monitor.retrain import Retrainer, RetrainRequest
from kubetfx.components.validate import executor as validate

OK, DRIFT, SKEW = "ok", "drift", "skew"
BATCH_SPLIT = "batch"  # the batch's statistics go to Split-batch/, beside training's in TFDV's layout


def run(statistics_uri: str, examples_uri: str, source: sources.BatchSource, output_uri: str, report_path: str,
        config: MonitorConfig, retrain: Retrainer | None = None, outcomes_uri: str = "") -> dict:
    """Compares, judges, reports and, on drift in new data, retrains; returns the result.

    With `outcomes_uri` (the interactions that followed the request log's answers), the online
    quality of what was served is judged too (concept drift, see `concept`)."""
    if outcomes_uri and source.kind != sources.REQUEST_LOG:
        raise MonitorError(f"outcomes '{outcomes_uri}' are judged against a request log; the batch is "
                           f"{source.kind.replace('_', ' ')}: pass the request log instead")
    watch = timing.Stopwatch()
    training_stats, compared_by = _training_statistics(statistics_uri, config.thresholds)
    with timing.stage(names.TASK_MONITOR, f"reading the {source.kind.replace('_', ' ')} batch"):
        batch = sources.read_batch(source)
        training = sources.read_training(examples_uri, sorted(config.thresholds))
    comparison = drift.SKEW if batch.kind == sources.REQUEST_LOG else drift.DRIFT
    with timing.stage(names.TASK_MONITOR, f"TFDV statistics of the batch and its {comparison} from training"):
        batch_stats = validate.generate_statistics({BATCH_SPLIT: validate.table_source(batch.table)}, output_uri)
        distances = drift.distances(training_stats, batch_stats[BATCH_SPLIT], config.thresholds, comparison)
    values = drift.value_counts(batch_stats[BATCH_SPLIT])
    features = [_feature(name, compared_by[name], distances[name], float(threshold), comparison, values.get(name, 0))
                for name, threshold in sorted(config.thresholds.items())]
    result = {
        "source": batch.kind, "rows": batch.rows, "features": features,
        "unknown_users": _share(_unknown_users(batch, training, config.salt), config.max_unknown_user_share),
        "unknown_items": _share(_unknown(batch.items, training.items), config.max_unknown_item_share),
        "feature_skew": _feature_skew(batch, training, config) if batch.kind == sources.REQUEST_LOG else [],
    }
    result["online"] = _online(source.request_log_uri, outcomes_uri, config) if outcomes_uri else None
    result.update(_verdict(result))
    # New interactions to train on: the batch itself, or, on concept drift, the outcomes.
    train_on = outcomes_uri if result["online"] and result["online"]["exceeded"] else \
        source.interactions_uri if batch.kind == sources.INTERACTIONS else ""
    result["retrain"] = bool(result["verdict"] == DRIFT and train_on and config.allow_retrain)
    result["retrain_run"] = _retrain(retrain, source, result, train_on) if result["retrain"] and retrain else None
    _write(output_uri, report_path, result)
    result[names.META_WALL_SECONDS] = watch.seconds
    return result


def _training_statistics(statistics_uri: str, thresholds: dict) -> tuple[drift.Statistics, dict[str, str]]:
    """Validate's statistics of train, and the metric each of its features is compared by."""
    try:
        stats = validate.load_statistics(statistics_uri, names.TRAIN)
    except Exception as error:
        raise MonitorError(f"cannot read training statistics under '{statistics_uri}' (validate's statistics "
                           f"artifact, with {names.SPLIT_PREFIX}{names.TRAIN}/{names.FEATURE_STATS_FILE}): {error}") from None
    compared_by = drift.metrics(stats)
    unknown = sorted(set(thresholds) - set(compared_by))
    if unknown:
        raise MonitorError(f"thresholds name {unknown}, which training's statistics do not have; "
                           f"features with statistics: {sorted(compared_by)}")
    return stats, compared_by


def _feature(name: str, metric: str, distance: float, threshold: float, comparison: str, values: int) -> dict:
    return {"feature": name, "comparison": comparison, "metric": metric, "distance": round(distance, 4),
            "threshold": threshold, "exceeded": distance > threshold, "values": int(values)}


def _unknown(values: np.ndarray, known: set[str]) -> tuple[int, int]:
    """(rows whose value training never saw, rows)."""
    return int(np.count_nonzero(~np.isin(values, list(known)))), int(len(values))


def _unknown_users(batch: sources.Batch, training: sources.Training, salt: bytes) -> tuple[int, int] | None:
    if batch.kind == sources.INTERACTIONS:
        return _unknown(batch.users, training.users)
    if not salt:
        return None  # hashed ids cannot be matched without the salt
    from kubetfx.pipelines.recommender.serving.request_log import hash_user

    return _unknown(batch.users, {hash_user(user, salt) for user in training.users})


def _share(counts: tuple[int, int] | None, threshold: float) -> dict:
    if not counts or not counts[1]:
        return {"share": None, "rows": 0, "threshold": threshold, "exceeded": False}
    share = counts[0] / counts[1]
    return {"share": round(share, 4), "rows": counts[1], "threshold": threshold, "exceeded": share > threshold}


def _feature_skew(batch: sources.Batch, training: sources.Training, config: MonitorConfig) -> list[dict]:
    """Per feature, the share of known users' requests whose value differs from training's."""
    if not config.salt:
        return []
    from kubetfx.pipelines.recommender.serving.request_log import hash_user

    by_hash = {hash_user(user, config.salt): features for user, features in training.user_features.items()}
    known = [row for row, user in enumerate(batch.users) if user in by_hash]
    found = []
    for name in sorted(config.thresholds):
        if name not in batch.table.column_names or not known:
            continue
        served = batch.table.column(name).to_pylist()
        differ = sum(_first(served[row]) != by_hash[batch.users[row]].get(name) for row in known)
        share = differ / len(known)
        found.append({"feature": name, "compared": len(known), "share": round(share, 4),
                      "threshold": config.max_skew_share, "exceeded": share > config.max_skew_share})
    return found


def _first(values: list | None):
    value = values[0] if values else None
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _verdict(result: dict) -> dict:
    drifted = [f["feature"] for f in result["features"] if f["exceeded"] and f["comparison"] == "drift"]
    skewed = [f["feature"] for f in result["features"] if f["exceeded"] and f["comparison"] == "skew"]
    skewed += [f["feature"] for f in result["feature_skew"] if f["exceeded"] and f["feature"] not in skewed]
    unknown = [what for what in ("unknown_users", "unknown_items") if result[what]["exceeded"]]
    concept_drift = concept.reasons(result.get("online"))
    reasons = ([f"{name}: distribution drifted from training" for name in drifted]
               + [f"{name}: serving differs from training" for name in skewed]
               + [f"{what.replace('_', ' ')}: {result[what]['share']:.1%} of rows, over {result[what]['threshold']:.1%}"
                  for what in unknown] + concept_drift)
    verdict = DRIFT if drifted or unknown or concept_drift else SKEW if skewed else OK
    return {"verdict": verdict, "drifted_features": drifted, "skewed_features": sorted(skewed), "reasons": reasons}


def _online(log_uri: str, outcomes_uri: str, config: MonitorConfig) -> dict:
    with timing.stage(names.TASK_MONITOR, "judging what was served against the outcomes that followed"):
        return concept.online_quality(concept.read_served(log_uri), concept.read_outcomes(outcomes_uri, config.salt),
                                      config.outcome_window_seconds, config.max_online_drop)


def _retrain(retrain: Retrainer, source: sources.BatchSource, result: dict, interactions_uri: str) -> str:
    request = RetrainRequest(interactions_uri=interactions_uri, users_uri=source.users_uri,
                             items_uri=source.items_uri, reasons=tuple(result["reasons"]))
    with timing.stage(names.TASK_MONITOR, "starting the training pipeline on the new data"):
        return retrain(request)


def _write(output_uri: str, report_path: str, result: dict) -> None:
    fs.write_json(fs.join(output_uri, names.MONITOR_RESULT_FILE), result)
    png = concept.plot_png(result["online"]) if result.get("online") else b""
    if png:
        with fs.gfile().GFile(fs.join(output_uri, concept.PLOT_FILE), "wb") as f:
            f.write(png)
    fs.write_text(report_path, _report(result, png))


def metrics(result: dict) -> dict:
    """The figures for KFP's metrics: each judged distance and share."""
    figures = {f"{f['comparison']}.{f['feature']}": f["distance"] for f in result["features"]}
    figures.update({f"feature_skew.{f['feature']}": f["share"] for f in result["feature_skew"]})
    figures.update({f"{what}_share": result[what]["share"] for what in ("unknown_users", "unknown_items")
                    if result[what]["share"] is not None})
    if result.get("online") and result["online"]["latest"]:
        figures.update({f"online.{metric}": value for metric, value in result["online"]["latest"].items() if metric != "day"})
    return figures


def _report(result: dict, online_png: bytes = b"") -> str:
    verdict = {OK: reports.verdict(True), DRIFT: '<span class="fail">DRIFT</span>', SKEW: '<span class="fail">SKEW</span>'}
    retrain = ("a training run was started: " + str(result["retrain_run"]) if result["retrain_run"]
               else "retraining is due" if result["retrain"] else "no retraining")
    reasons = "".join(f"<li>{html.escape(reason)}</li>" for reason in result["reasons"])
    sections = [
        ("Verdict", f"<p>{verdict[result['verdict']]} on {result['rows']:,} rows of "
                    f"{result['source'].replace('_', ' ')}; {retrain}.</p><ul>{reasons}</ul>"),
        ("Distance to training per feature", reports.html_table(
            ["feature", "comparison", "metric", "distance", "threshold", "values in batch"],
            [[f["feature"], f["comparison"], f["metric"], f["distance"], f["threshold"], f["values"]] for f in result["features"]],
            ["fail" if f["exceeded"] else "" for f in result["features"]])),
        ("Users and items training never saw", reports.html_table(
            ["what", "share of rows", "rows", "threshold"],
            [[what.replace("_", " "), result[what]["share"] if result[what]["share"] is not None else "n/a",
              result[what]["rows"], result[what]["threshold"]] for what in ("unknown_users", "unknown_items")],
            ["fail" if result[what]["exceeded"] else "" for what in ("unknown_users", "unknown_items")])),
    ]
    if result["source"] == sources.REQUEST_LOG:
        sections.append(("Training-serving feature skew (same user, other values)", reports.html_table(
            ["feature", "requests compared", "share that differ", "threshold"],
            [[f["feature"], f["compared"], f["share"], f["threshold"]] for f in result["feature_skew"]],
            ["fail" if f["exceeded"] else "" for f in result["feature_skew"]]) if result["feature_skew"]
            else "<p>Not measured: it needs the request log's salt to match users with training's.</p>"))
    if result.get("online"):
        sections.append(("Online quality of what was served (concept drift)",
                         concept.report_section(result["online"], online_png)))
    return reports.html_page("Monitor", sections)
