"""The evaluation report opened in a real browser (headless Chromium): it renders and shows the verdicts."""
import shutil
import subprocess

import numpy as np
import pytest
from test_evaluate_executor import ITEMS, save_table_model, write_splits

from kubetfx.pipelines.recommender.components.evaluate import executor

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (`apt-get install chromium`; .ci/run does)")


def _chromium(tmp_path, *arguments: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, *arguments], capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture()
def report(tmp_path):
    genders = {"u1": "F", "u2": "M"}
    root = write_splits(tmp_path / "examples", [("u1", "a"), ("u2", "b")], [("u1", "b"), ("u2", "a")], genders)
    worse_than_popular = np.array([[9, 0, 9, 9, 9], [0, 9, 9, 9, 9]], np.float32)
    model = save_table_model(tmp_path / "model", ["u1", "u2"], ITEMS, worse_than_popular)
    config = executor.EvaluateConfig(top_k=(2,), main_metric="ndcg@2", min_group_size=1, run_tfma=False)
    executor.run(model, root, str(tmp_path / "evaluation"), str(tmp_path / "blessing"), str(tmp_path / "report.html"), config=config)
    return tmp_path / "report.html"


def test_the_report_renders_with_its_verdicts(tmp_path, report):
    dom = _chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert "<svg" in dom and "users served worst" in dom
    assert 'class="fail">FAIL' in dom, "the failed baseline gate is shown as FAIL"
    assert 'class="ok">PASS' in dom, "the champion gate (no champion yet) is shown as PASS"
    assert "does not beat most-popular" in dom


def test_the_report_paints(tmp_path, report):
    screenshot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1000,1400", report.as_uri())
    assert screenshot.stat().st_size > 10_000, "a blank page would compress to almost nothing"
