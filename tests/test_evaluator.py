"""The generic evaluator (TFX's own Evaluator executor with the user's EvalConfig) on the TFX-style
module's churn classifier: TFX's artifact layout, blessing only when every threshold holds, a clear
error for a bad EvalConfig."""
import json

import pytest

from kubetfx.components.common import names
from kubetfx.components.evaluator import executor as evaluator


def _config(auc_at_least: float) -> str:
    """An EvalConfig as a TFX user writes it (JSON): one label, slices, a value threshold on AUC."""
    return json.dumps({
        "model_specs": [{"signature_name": "serving_default", "label_key": "churned",
                         "prediction_key": "probabilities"}],
        "slicing_specs": [{}, {"feature_keys": ["plan"]}],
        "metrics_specs": [{"metrics": [
            {"class_name": "ExampleCount"},
            {"class_name": "BinaryAccuracy"},
            {"class_name": "AUC", "threshold": {"value_threshold": {"lower_bound": auc_at_least}}},
        ]}],
    })


@pytest.fixture(scope="module")
def evaluated(churn, churn_trained, tmp_path_factory):
    """The model evaluated twice: against a threshold it meets and one it cannot."""
    results = {}
    for name, bound in (("met", 0.6), ("missed", 0.999)):
        out = tmp_path_factory.mktemp(name)
        figures = evaluator.run(str(churn / "model"), str(churn / "examples"), _config(bound), str(out / "evaluation"),
                                str(out / "blessing"), str(out / "report.md"))
        results[name] = (figures, out)
    return results


def test_a_model_meeting_every_threshold_is_blessed_as_tfx_lays_it_out(evaluated):
    import tensorflow_model_analysis as tfma

    figures, out = evaluated["met"]
    assert figures["blessed"] and figures["failed_thresholds"] == []
    assert names.META_JUDGED_AGAINST not in figures  # no baseline given: push keeps only its own check
    assert (out / "blessing" / evaluator.BLESSED_FILE).exists()
    assert not (out / "blessing" / evaluator.NOT_BLESSED_FILE).exists()
    assert tfma.load_validation_result(str(out / "evaluation")).validation_ok
    assert figures["metrics"]["example_count"] == 200  # every held-out row
    assert 0.6 <= figures["metrics"]["auc"] <= 1.0 and figures["metrics"]["binary_accuracy"] >= 0.75


def test_a_model_below_its_threshold_is_not_blessed_and_the_report_says_why(evaluated):
    figures, out = evaluated["missed"]
    assert not figures["blessed"]
    assert (out / "blessing" / evaluator.NOT_BLESSED_FILE).exists()
    # The threshold holds on every slice of the EvalConfig: overall and each plan, and fails on each.
    failed = figures["failed_thresholds"]
    assert len(failed) == 4 and all(failure.startswith("auc = ") for failure in failed)
    assert {failure.split(" on ")[1].split(" fails")[0] for failure in failed} == {
        "Overall", "plan=basic", "plan=standard", "plan=premium"}
    report = (out / "report.md").read_text()
    assert "NOT BLESSED" in report and all(failure in report for failure in failed)


def test_every_slice_of_the_eval_config_is_reported(evaluated):
    _, out = evaluated["met"]
    report = (out / "report.md").read_text()
    assert all(f"plan={plan}" in report for plan in ("basic", "standard", "premium"))


@pytest.mark.parametrize("text, says", [
    ("model_specs { label_key: 'churned' } metrics_specs { bogus: 1 }", "not a valid tfma.EvalConfig (text proto)"),
    ('{"model_specs": [{"label_key": 3, "oops": true}]}', "not a valid tfma.EvalConfig (JSON)"),
    ("metrics_specs { metrics { class_name: 'AUC' } }", "names no model_specs"),
])
def test_a_bad_eval_config_is_refused_saying_what_is_wrong(text, says):
    with pytest.raises(evaluator.EvalConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        evaluator.parse_eval_config(text)


def _change_config(improvement: float) -> str:
    """A champion-challenger EvalConfig: AUC at least 0.6, and better than the baseline's by
    `improvement` (absolute; as in TFX, judged only when there is a baseline)."""
    return json.dumps({
        "model_specs": [{"signature_name": "serving_default", "label_key": "churned", "prediction_key": "probabilities"}],
        "metrics_specs": [{"metrics": [{"class_name": "AUC", "threshold": {
            "value_threshold": {"lower_bound": 0.6},
            "change_threshold": {"direction": "HIGHER_IS_BETTER", "absolute": improvement}}}]}],
    })


def test_change_thresholds_compare_with_the_baseline_model(churn, churn_trained, tmp_path):
    from kubetfx.components.common import fs
    from kubetfx.components.latest_blessed import executor as latest_blessed
    from kubetfx.components.push import executor as push

    # The model against itself, served as version 7: no change, which meets "no worse" and fails
    # "better by 0.01"; the blessing names the version it was judged against, for push to check.
    fs.write_json(str(tmp_path / "pushed" / names.BLESSING_FILE), {names.META_BLESSED: True})
    push.run(str(churn / "model" / names.SERVING_MODEL_SUBDIR), str(tmp_path / "pushed"), str(tmp_path / "serving"),
             str(tmp_path / "push.md"), version="7")
    latest_blessed.run(str(tmp_path / "serving"), str(tmp_path / "champion"))
    no_worse = evaluator.run(str(churn / "model"), str(churn / "examples"), _change_config(-1e-6),
                             str(tmp_path / "a" / "evaluation"), str(tmp_path / "a" / "blessing"),
                             str(tmp_path / "a" / "report.md"), baseline_model_uri=str(tmp_path / "champion"))
    assert no_worse["blessed"] and 0.6 <= no_worse["metrics"]["auc"] <= 1.0
    assert no_worse[names.META_JUDGED_AGAINST] == "7"
    better = evaluator.run(str(churn / "model"), str(churn / "examples"), _change_config(0.01),
                           str(tmp_path / "b" / "evaluation"), str(tmp_path / "b" / "blessing"),
                           str(tmp_path / "b" / "report.md"), baseline_model_uri=str(churn / "model"))
    assert not better["blessed"] and len(better["failed_thresholds"]) == 1
    assert "changeThreshold" in better["failed_thresholds"][0]


def test_an_empty_baseline_is_no_baseline(churn, churn_trained, tmp_path):
    """latest_blessed's model before the first push (found: false) is an empty folder: change
    thresholds are then skipped, as without a baseline, and the first model is blessed on its value
    thresholds."""
    (tmp_path / "no-champion").mkdir()
    figures = evaluator.run(str(churn / "model"), str(churn / "examples"), _change_config(0.01),
                            str(tmp_path / "evaluation"), str(tmp_path / "blessing"), str(tmp_path / "report.md"),
                            baseline_model_uri=str(tmp_path / "no-champion"))
    assert figures["blessed"] and "no baseline model" in (tmp_path / "report.md").read_text()
    assert figures[names.META_JUDGED_AGAINST] is None  # nothing served: push refuses if something is by then
