"""Concept drift: is what the model serves still what users go on to choose?

Features can keep their distribution while what users want changes (a season, a competitor's
offer); only outcomes show that. This joins serving's request log (hashed user, time, the items
served) with the interactions that followed (the outcome log: user_id, item_id, timestamp) and
computes, per day of serving, the online quality of what was served:

- hit rate: the share of judged answers with at least one served item the user then chose;
- nDCG: each answer's served list against the set of items the user then chose (relevance 1),
  normalised by the best possible order, averaged over judged answers.

An answer is judged when its user interacted with anything within `outcome_window_seconds` after
it (a user who did nothing says nothing about the list). The latest day is compared with the
days before it (weighted by answers); a relative drop beyond `max_online_drop` in either metric
is concept drift, which asks for retraining as feature drift does.

Outcome rows whose user never appears in the log (users served by another path, or never
served) are counted and reported, never fatal.
"""
import base64
import dataclasses
import datetime
import io
import json

import numpy as np

from kubetfx.components.common import fs
from kubetfx.components.common.errors import MonitorError
from kubetfx.pipelines.recommender import names

PLOT_FILE = "online_quality.png"


@dataclasses.dataclass(frozen=True)
class Served:
    """One answered instance of the request log."""

    user: str  # the log's keyed hash
    time: float  # seconds since the epoch
    items: tuple[str, ...]


def read_served(log_uri: str) -> list[Served]:
    files = fs.glob(fs.join(log_uri, f"*{names.REQUEST_LOG_SUFFIX}")) + \
        fs.glob(fs.join(log_uri, "*", f"*{names.REQUEST_LOG_SUFFIX}"))
    served = []
    for path in files:
        for number, line in enumerate(fs.read_text(path).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                served.append(Served(str(record["user"]), float(record["time"]), tuple(record["items"])))
            except (ValueError, KeyError, TypeError) as error:
                raise MonitorError(f"request log file '{path}' line {number}: not a served answer with user, time "
                                   f"and items ({type(error).__name__}: {error})") from None
    if not served:
        raise MonitorError(f"no request log records under '{log_uri}' to judge against outcomes")
    return served


def read_outcomes(uri: str, salt: bytes):
    """The outcome log as (hashed user, item, time) arrays, hashed with the request log's salt."""
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest
    from kubetfx.pipelines.recommender.serving.request_log import hash_user

    if not salt:
        raise MonitorError(f"outcomes '{uri}' can only be matched with the request log's hashed users given its "
                           "salt: pass the salt file (--salt-file, log_salt_uri)")
    frame = ingest.read_table(uri, "outcomes", (names.USER_ID, names.ITEM_ID))
    if names.TIMESTAMP not in frame.columns:
        raise MonitorError(f"outcomes file '{uri}' has no column '{names.TIMESTAMP}' (seconds since the epoch): "
                           f"without it the interactions that followed an answer cannot be told from those before")
    ingest.check_numeric(frame, uri, "outcomes", (names.TIMESTAMP,))
    hashes = {user: hash_user(user, salt) for user in frame[names.USER_ID].unique()}
    return (frame[names.USER_ID].map(hashes).to_numpy(str), frame[names.ITEM_ID].to_numpy(str),
            frame[names.TIMESTAMP].to_numpy(np.float64))


def online_quality(served: list[Served], outcomes, window_seconds: float, max_drop: float) -> dict:
    """Per day: answers, judged answers, hit rate, nDCG; the latest day against the days before."""
    users, items, times = outcomes
    by_user: dict[str, list[tuple[float, str]]] = {}
    for user, item, moment in zip(users, items, times):
        by_user.setdefault(user, []).append((moment, item))
    for events in by_user.values():
        events.sort()
    served_users = {answer.user for answer in served}
    unknown = np.array([user not in served_users for user in users], dtype=bool)
    days: dict[str, dict] = {}
    for answer in served:
        day = datetime.datetime.fromtimestamp(answer.time, datetime.timezone.utc).strftime("%Y-%m-%d")
        figures = days.setdefault(day, {"day": day, "answers": 0, "judged": 0, "hits": 0, "ndcg_sum": 0.0})
        figures["answers"] += 1
        chosen = {item for moment, item in by_user.get(answer.user, ())
                  if answer.time < moment <= answer.time + window_seconds}
        if not chosen:
            continue
        figures["judged"] += 1
        gains = [1.0 if item in chosen else 0.0 for item in answer.items]
        figures["hits"] += int(any(gains))
        figures["ndcg_sum"] += _ndcg(gains, len(chosen))
    series = [_rates(days[day]) for day in sorted(days)]
    result = {"days": series, "window_seconds": window_seconds, "max_drop": max_drop,
              "unknown_outcome_users": {"rows": int(unknown.sum()), "users": int(len(set(users[unknown]))),
                                        "of_rows": int(len(users))},
              "baseline": None, "latest": None, "drops": {}, "exceeded": False}
    judged = [day for day in series if day["judged"]]
    if len(judged) < 2:
        return result  # nothing to compare the latest day with
    before, latest = judged[:-1], judged[-1]
    weight = sum(day["judged"] for day in before)
    baseline = {metric: sum(day[metric] * day["judged"] for day in before) / weight for metric in ("hit_rate", "ndcg")}
    drops = {metric: (baseline[metric] - latest[metric]) / baseline[metric] if baseline[metric] else 0.0
             for metric in baseline}
    result.update(baseline={metric: round(value, 4) for metric, value in baseline.items()},
                  latest={"day": latest["day"], "hit_rate": latest["hit_rate"], "ndcg": latest["ndcg"]},
                  drops={metric: round(drop, 4) for metric, drop in drops.items()},
                  exceeded=any(drop > max_drop for drop in drops.values()))
    return result


def _ndcg(gains: list[float], relevant: int) -> float:
    discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
    ideal = discounts[:min(relevant, len(gains))].sum()
    return float(np.dot(gains, discounts) / ideal) if ideal else 0.0


def _rates(figures: dict) -> dict:
    judged = figures["judged"]
    return {"day": figures["day"], "answers": figures["answers"], "judged": judged,
            "hit_rate": round(figures["hits"] / judged, 4) if judged else None,
            "ndcg": round(figures["ndcg_sum"] / judged, 4) if judged else None}


def reasons(online: dict) -> list[str]:
    """The verdict's lines for a drop beyond the threshold."""
    if not online or not online["exceeded"]:
        return []
    return [f"online {metric.replace('_', ' ')}: {online['latest'][metric]:.3f} on {online['latest']['day']} against "
            f"{online['baseline'][metric]:.3f} before, {drop:.0%} lower (over {online['max_drop']:.0%}): concept drift"
            for metric, drop in online["drops"].items() if drop > online["max_drop"]]


def plot_png(online: dict) -> bytes:
    """Hit rate and nDCG per day (the baseline dashed), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = [day for day in online["days"] if day["judged"]]
    figure, axis = plt.subplots(figsize=(7, 3.5))
    for metric, colour in (("hit_rate", "tab:blue"), ("ndcg", "tab:orange")):
        axis.plot([day["day"] for day in days], [day[metric] for day in days], marker="o", color=colour,
                  label=metric.replace("_", " "))
        if online["baseline"]:
            axis.axhline(online["baseline"][metric], color=colour, linestyle="--", linewidth=1)
    axis.set_ylim(bottom=0)
    axis.set_ylabel("of judged answers")
    axis.set_title("online quality of what was served, per day (dashed: the days before the latest)")
    axis.legend(fontsize=8)
    axis.tick_params(axis="x", labelrotation=30, labelsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def report_section(online: dict, png: bytes) -> str:
    from kubetfx.components.common import reports

    unknown = online["unknown_outcome_users"]
    rows = [[day["day"], day["answers"], day["judged"], "n/a" if day["hit_rate"] is None else day["hit_rate"],
             "n/a" if day["ndcg"] is None else day["ndcg"]] for day in online["days"]]
    verdict = ("; ".join(reasons(online)) if online["exceeded"] else
               "no drop beyond the threshold" if online["baseline"] else "fewer than two judged days: nothing to compare")
    return (f'<p>{verdict}. Outcomes within {online["window_seconds"] / 3600:.0f} h of an answer; '
            f'{unknown["rows"]:,} of {unknown["of_rows"]:,} outcome rows ({unknown["users"]:,} users) belong to users '
            f'the request log never served (not judged).</p>'
            f'<img alt="online hit rate and nDCG per day" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
            + reports.html_table(["day", "answers", "judged", "hit rate", "nDCG"], rows))
