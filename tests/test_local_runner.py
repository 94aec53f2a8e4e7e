"""The local run's summary: a failed step's own error, without terminal colours, and the data
problems ingest counted."""
import dataclasses

import pandas as pd

from kubetfx.components.common import names
from kubetfx.pipelines import local_runner

RED, RESET = "\x1b[91m", "\x1b[0m"


def test_the_steps_own_error_is_found_in_its_log_without_colour_codes():
    log = "\n".join([
        f"{RED}ingest{RESET} started",
        "Traceback (most recent call last):",
        '  File "executor.py", line 30, in read_table',
        "kubetfx.components.common.errors.InputDataError: interactions file 'bad.csv' has no column 'item_id'",
        f"Task {RED}'ingest'{RESET} finished with status {RED}FAILURE{RESET}",
    ])
    assert local_runner.step_error(log) == "InputDataError: interactions file 'bad.csv' has no column 'item_id'"
    assert local_runner.plain(f"Inner task failed: {RED}'ingest'{RESET}.") == "Inner task failed: 'ingest'."
    assert local_runner.step_error("no traceback here") is None


def test_a_failed_run_summary_holds_the_steps_error(tmp_path):
    from kfp import dsl

    from kubetfx.pipelines.recommender.components.ingest import component as ingest
    from kubetfx.pipelines.recommender.components.ingest.limits import DEFAULTS

    step = ingest.build("local")

    @dsl.pipeline(name="ingest-only")
    def ingest_only(interactions_uri: str):
        step(interactions_uri=interactions_uri, users_uri="", items_uri="", split_method="random",
             eval_fraction=0.25, seed=1, **dataclasses.asdict(DEFAULTS))

    bad = tmp_path / "bad.csv"
    pd.DataFrame({"user_id": ["1"], "item": ["2"]}).to_csv(bad, index=False)
    summary = local_runner.run(ingest_only, {"interactions_uri": str(bad)}, str(tmp_path / "run"))
    assert summary["status"] == "failed" and summary["failed_step"] == names.TASK_INGEST
    assert summary["error"].startswith("InputDataError: interactions file") and "no column 'item_id'" in summary["error"]
    assert "\x1b[" not in (tmp_path / "run" / local_runner.SUMMARY_FILE).read_text()
    assert "no column 'item_id'" in local_runner.format_summary(summary)


def test_data_problems_ingest_counted_are_in_the_summary(tmp_path):
    import json

    quality = {"duplicate_rows": {"rows": 3, "share": 0.1}, "unknown_users": {"rows": 0, "share": 0.0}}
    task = tmp_path / names.TASK_INGEST
    task.mkdir()
    (task / "executor_output.json").write_text(json.dumps({"artifacts": {"examples": {"artifacts": [
        {"uri": "x", "metadata": {"quality": quality, names.META_ROWS: {"train": 30}}}]}}}))
    summary = local_runner.summarise(tmp_path, 1.0, None)
    assert summary["data_quality"] == {"duplicate_rows": 3, "unknown_users": 0}
    assert "data quality: duplicate rows 3\n" in local_runner.format_summary(summary) + "\n"
