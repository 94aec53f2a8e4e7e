"""The evaluation page the Kubeflow UI shows: verdict, gates, comparisons, slices, errors."""
import html

from kubetfx.components.common import reports


def render(result: dict) -> str:
    blessed = result["blessing"]["blessed"]
    headline = f'<p>Verdict: {reports.verdict(blessed)} — the model is {"" if blessed else "<b>not</b> "}blessed.</p>'
    sections = [
        ("Gates", headline + _gates(result["blessing"]["gates"])),
        ("Candidate against most-popular and the blessed model", _comparison(result)),
        ("Fairness: worst over best group per slice family", _fairness(result["blessing"]["gates"])),
        ("TFMA metrics per slice (scored eval examples)", _tfma_note(result) + _tfma(result["tfma"])),
    ]
    for family, groups in result["slices"].items():
        sections.append((f"{result['main_metric']} by {family}" if "recall@" not in family else family, _slice(groups)))
    sections.append(("Error analysis: worst slices", _worst_slices(result["worst_slices"])))
    sections.append(("Error analysis: users served worst", _worst_users(result["worst_users"])))
    return reports.html_page("kubetfx evaluation", sections)


def _gates(gates: list[dict]) -> str:
    rows = "".join(f"<tr><td>{html.escape(g['name'])}</td><td>{reports.verdict(g['passed'])}</td><td>{html.escape(g['reason'])}</td></tr>" for g in gates)
    return f"<table><thead><tr><th>gate</th><th>verdict</th><th>reason</th></tr></thead><tbody>{rows}</tbody></table>"


def _comparison(result: dict) -> str:
    champion = result.get("champion") or {}
    rows = [[name, value, result["baseline"].get(name), champion.get(name, "-")] for name, value in sorted(result["candidate"].items())]
    return reports.html_table(["metric", "candidate", "most-popular", "blessed model"], rows)


def _fairness(gates: list[dict]) -> str:
    gate = next((g for g in gates if g["name"] == "fairness"), None)
    if not gate:
        return ""
    rows = []
    for family, verdict in sorted(gate.get("details", {}).items()):
        judged = "reported only" if verdict.get("reported_only") else "judged"
        if verdict.get("ratio") is None:
            judged = "not judged (fewer than two groups large enough)"
        rows.append([family, verdict.get("ratio"), verdict.get("worst", "-"), verdict.get("best", "-"), judged,
                     ", ".join(verdict.get("not_judged", [])) or "-"])
    return reports.html_table(["slice family", "worst/best", "worst group", "best group", "role", "groups too small"], rows)


def _tfma_note(result: dict) -> str:
    run = result.get("tfma_run") or {}
    if not run:
        return "<p>TFMA was not run.</p>"
    return (f"<p>{run['examples']:,} examples: {run['positives']:,} eval choices (label 1, sampled from "
            f"{run['positives_available']:,} in the catalogue) and never-met items (label 0); the prediction is "
            f"the item's percentile rank among the user's catalogue scores. TFMA took {run['seconds']:.1f} s; "
            f"its output is in <code>{html.escape(run['output'])}</code>.</p>")


def _tfma(slices: dict) -> str:
    metrics = ("example_count", "auc", "auc_precision_recall", "mean_label", "mean_prediction", "calibration")
    rows = [[name or "overall"] + [values.get(m) for m in metrics] for name, values in sorted(slices.items())]
    return reports.html_table(["slice", *metrics], rows)


def _slice(groups: dict) -> str:
    rows = [[group, values["value"], values["users"]] for group, values in sorted(groups.items())]
    return _bars(groups) + reports.html_table(["group", "value", "users"], rows)


def _bars(groups: dict) -> str:
    """An inline SVG bar per group, so the page needs nothing but itself."""
    if not groups:
        return ""
    top = max(v["value"] for v in groups.values()) or 1.0
    height, label_width, bar_width = 18, 160, 320
    bars = []
    for index, (group, values) in enumerate(sorted(groups.items())):
        y = index * height
        width = bar_width * values["value"] / top
        bars.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(str(group))[:24]}</text>'
                    f'<rect x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{height - 6}" fill="#1a73e8"/>'
                    f'<text x="{label_width + width + 4:.1f}" y="{y + 13}" font-size="11">{values["value"]:.3f}</text>')
    total_height = height * len(groups)
    return f'<svg role="img" width="{label_width + bar_width + 60}" height="{total_height}">{"".join(bars)}</svg>'


def _worst_slices(worst: list[dict]) -> str:
    rows = [[w["family"], w["group"], w["value"], w["users"]] for w in worst]
    return reports.html_table(["slice family", "group", "value", "users"], rows)


def _worst_users(users: list[dict]) -> str:
    rows = [[u["user_id"], u["metric"], ", ".join(u["recommended"]), ", ".join(u["chosen"]), _why(u.get("reasons"))]
            for u in users]
    note = ("<p>Why: for each of the first recommendations, the train items whose removal from the user's "
            "history lowers that item's score most (the drop in the model's score in brackets), measured by "
            "scoring the user again without each item; blank when the model takes no history list.</p>")
    return note + reports.html_table(["user", "metric", "recommended (top 10)", "went on to choose", "why"], rows)


def _why(reasons: list[dict] | None) -> str:
    if not reasons:
        return "-"
    return "; ".join(f"{r['item']} ← " + (", ".join(f"{b['item']} ({b['score_drop']:.3g})" for b in r["because"]) or "-")
                     for r in reasons)
