"""The benchmark's arithmetic and its files, on measurements made up for the test (the bench itself
runs in `make bench`, which prints figures; no timing is asserted here)."""
import json

import pytest

from kubetfx import bench
from kubetfx.components.common import names


def _measured(total_s, transform_s, evaluate_s, overhead_fraction=0.05):
    steps = {step: 1.0 for step in names.STEPS}
    steps.update({names.TASK_TRANSFORM: transform_s, names.TASK_EVALUATE: evaluate_s})
    return {"steps": steps, "total_s": total_s, "framework_overhead_s": total_s * overhead_fraction,
            "framework_overhead_fraction": overhead_fraction, "peak_rss_mb": 100.0, "catalogue_items": int(total_s * 20)}


def _baseline(transform_s, model_evaluate_s, suite_eps, ceiling_eps, multi_process_s, loop_eps=None):
    return {"transform_s": transform_s, "model_evaluate_s": model_evaluate_s, "suite_train_examples_per_s": suite_eps,
            "suite_training_loop_examples_per_s": loop_eps or suite_eps * 1.5,
            "train_examples_per_s": ceiling_eps, "transform_multi_process_s": multi_process_s}


def _results():
    return {
        "sizes": {"100000": _measured(50.0, 10.0, 8.0, 0.2), "1000000": _measured(500.0, 40.0, 30.0, 0.04),
                  "5000000": _measured(2500.0, 200.0, 150.0, 0.01)},
        "baselines": {"1000000": _baseline(20.0, 15.0, 900.0, 1000.0, 40.0)},
    }


def test_a_step_that_did_not_run_is_shown_as_such():
    results = {"sizes": {"100000": _measured(50.0, 10.0, 8.0)}, "baselines": {}}
    del results["sizes"]["100000"]["steps"][names.TASK_PUSH]
    results.update(bench._derived(results))
    assert f"| {names.TASK_PUSH} | not run |" in bench.markdown(results)


def test_growth_exponent_is_one_when_cost_grows_with_data():
    derived = bench._derived(_results())
    assert derived["growth_exponents"] == {"100000->1000000": 1.0, "1000000->5000000": 1.0}
    assert derived["growth_exponent"] == 1.0
    # transform 40 s -> 200 s and evaluate 30 s -> 150 s for 5x the data; the other steps stay at 1 s
    assert derived["step_growth_exponents"][names.TASK_TRANSFORM] == 1.0
    assert derived["step_growth_exponents"][names.TASK_EVALUATE] == 1.0
    assert derived["step_growth_exponents"][names.TASK_INGEST] == 0.0


def test_headline_figures_are_taken_at_one_million():
    derived = bench._derived(_results())
    assert derived["reference_size"] == 1_000_000
    assert derived["framework_overhead_fraction"] == 0.04


def test_ratios_are_suite_speed_over_baseline_speed():
    ratios = bench._derived(_results())["ratios"]
    assert ratios == {"transform": 0.5, "train": 0.9, "training_loop": 1.35, "evaluate": 0.5,
                      "transform_multi_process_vs_default": 0.5}


def test_one_size_alone_has_no_growth_exponent():
    results = {"sizes": {"100000": _measured(50.0, 10.0, 8.0)}, "baselines": {}}
    derived = bench._derived(results)
    assert derived["growth_exponent"] is None and derived["reference_size"] == 100_000
    assert "ratios" not in derived


def test_a_run_stopped_before_the_baselines_at_one_million_has_no_headline_ratios():
    results = _results()
    results["baselines"] = {"100000": _baseline(5.0, 1.0, 100.0, 400.0, 10.0)}
    derived = bench._derived(results)
    assert "ratios" not in derived and derived["ratios_by_size"]["100000"]["train"] == 0.25


@pytest.mark.parametrize("baselines", [True, False])
def test_the_files_a_person_reads_are_written(tmp_path, baselines):
    results = _results()
    if not baselines:
        results["baselines"] = {}
    bench._write(results, tmp_path)
    assert json.loads((tmp_path / "results.json").read_text())["growth_exponent"] == 1.0
    table = (tmp_path / "results.md").read_text()
    assert "| transform | 10.0 s | 40.0 s | 200.0 s |" in table
    assert "| catalogue (items) | 1,000 | 10,000 | 50,000 |" in table
    assert ("| 1,000,000 | 0.50 | 0.90 | 1.35 | 0.50 | 0.50 |" in table) is baselines
    assert (tmp_path / "steps.png").stat().st_size > 0
    assert (tmp_path / "steps_by_size.png").stat().st_size > 0 and "![steps_by_size.png](steps_by_size.png)" in table
    assert (tmp_path / "ratios.png").exists() is baselines
    page = (tmp_path / "results.html").read_text()
    assert "| transform | 10.0 s | 40.0 s | 200.0 s |" in page and ("<img src='ratios.png'" in page) is baselines


def test_growth_is_also_given_per_machine_speed_when_the_machine_slowed_during_the_run():
    results = {"sizes": {"1000000": {**_measured(100.0, 10.0, 10.0), "machine_probe_s": [1.0, 1.0]},
                         "10000000": {**_measured(1000.0, 100.0, 100.0), "machine_probe_s": [2.0, 2.0]}},
               "baselines": {}}
    derived = bench._derived(results)
    assert derived["growth_exponents"] == {"1000000->10000000": 1.0}
    # Twice as slow a machine for the larger size: per machine speed, 5x the time for 10x the data.
    assert derived["growth_exponents_per_machine_speed"] == {"1000000->10000000": 0.699}
    results.update(derived)
    assert "| machine probe before / after | 1.00 / 1.00 s | 2.00 / 2.00 s |" in bench.markdown(results)


def test_the_machine_probe_measures_work():
    assert bench.machine_probe_s() > 0
