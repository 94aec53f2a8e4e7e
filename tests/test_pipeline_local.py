"""The whole pipeline through kfp.local on synthetic data with MovieLens-100K's schema."""
import json

import pandas as pd
import pytest

from kubetfx.components.common import fs, names, serving
from kubetfx.config import Images
from kubetfx.pipelines import local_runner
from kubetfx.pipelines.recommender import data, pipeline


def _arguments(data_dir, serving_root, **overrides):
    return {
        "interactions_uri": str(data_dir / data.INTERACTIONS_FILE),
        "users_uri": str(data_dir / data.USERS_FILE),
        "items_uri": str(data_dir / data.ITEMS_FILE),
        "serving_root": str(serving_root),
        "train_steps": 300,
        "eval_steps": 2,
        "hyperparameters": {"epochs": 3},
        **overrides,
    }


@pytest.fixture(scope="module")
def local_run(synthetic_data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    serving_root = run_dir / "serving"
    recommender = pipeline.create_pipeline(Images(repo="local"))
    summary = local_runner.run(recommender, _arguments(synthetic_data, serving_root), str(run_dir))
    return summary, run_dir, serving_root


def test_the_run_succeeds_and_every_step_reports_its_time(local_run):
    summary, run_dir, _ = local_run
    assert summary["status"] == "succeeded", summary["error"]
    assert list(summary["steps"]) == list(names.STEPS)
    assert all(seconds > 0 for seconds in summary["steps"].values())
    assert json.loads((run_dir / local_runner.SUMMARY_FILE).read_text()) == summary


def test_rows_and_metrics_are_in_the_summary(local_run, synthetic_data):
    summary, _, _ = local_run
    interactions = len(pd.read_csv(synthetic_data / data.INTERACTIONS_FILE))
    assert sum(summary["rows"].values()) == interactions and summary["rows"]["eval"] > 0
    for metric in ("ndcg@10", "recall@10"):
        assert 0.0 < summary["metrics"][metric] <= 1.0


def test_a_blessed_model_is_pushed_and_pointed_to(local_run):
    summary, _, serving_root = local_run
    assert summary["blessed"] is True, "the planted taste signal should beat most-popular"
    latest = serving.read_latest(str(serving_root))
    assert summary["pushed_to"] == latest["model_dir"]
    assert fs.exists(fs.join(latest["model_dir"], "saved_model.pb"))


def test_the_pushed_versions_manifest_records_the_runs_lineage(local_run, synthetic_data):
    """The run id KFP resolves (not its placeholder), the data the run read, the headline metrics."""
    from kubetfx.components.common import integrity

    summary, _, serving_root = local_run
    lineage = integrity.verify(serving.read_latest(str(serving_root))["model_dir"], require=True)["lineage"]
    assert lineage["run"]["id"] and "{{" not in lineage["run"]["id"] and "{{" not in lineage["run"]["name"]
    assert lineage["data"] == {"interactions_uri": str(synthetic_data / data.INTERACTIONS_FILE),
                               "users_uri": str(synthetic_data / data.USERS_FILE),
                               "items_uri": str(synthetic_data / data.ITEMS_FILE)}
    assert lineage["metrics"]["ndcg@10"] == pytest.approx(summary["metrics"]["ndcg@10"])


def test_every_step_leaves_a_report(local_run):
    summary, _, _ = local_run
    assert set(summary["reports"]) == set(names.STEPS)
    for uri in summary["reports"].values():
        assert fs.read_text(uri).strip()


def test_bad_input_fails_clearly_and_keeps_the_served_model(local_run, tmp_path):
    _, run_dir, serving_root = local_run
    pointer_before = (serving_root / names.LATEST_POINTER).read_text()
    bad = tmp_path / "bad"
    bad.mkdir()
    pd.DataFrame({"user": ["1"], "item_id": ["2"]}).to_csv(bad / data.INTERACTIONS_FILE, index=False)
    recommender = pipeline.create_pipeline(Images(repo="local"))
    summary = local_runner.run(recommender, _arguments(bad, serving_root, users_uri="", items_uri=""), str(tmp_path / "run"))
    assert summary["status"] == "failed" and summary["pushed_to"] is None
    assert summary["failed_step"] == names.TASK_INGEST
    assert (serving_root / names.LATEST_POINTER).read_text() == pointer_before
