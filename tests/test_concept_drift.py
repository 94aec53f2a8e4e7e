"""Concept drift: the request log joined with the interactions that followed gives online hit rate
and nDCG per day; a drop on the latest day beyond the threshold is drift and retrains on the
outcomes; outcome rows of users never served are counted, not fatal; the report plots both."""
import datetime
import json

import pandas as pd
import pytest

from kubetfx import cli
from kubetfx.components.common import names
from kubetfx.components.common.errors import MonitorError
from kubetfx.pipelines.recommender.components.monitor import concept, executor, sources
from kubetfx.pipelines.recommender.components.monitor.config import MonitorConfig
from kubetfx.pipelines.recommender import data
from kubetfx.pipelines.recommender.generator import GeneratorConfig, generate
from kubetfx.pipelines.recommender.serving.request_log import hash_user

SALT = b"a-salt-for-concept-drift-tests-0123"
DAY0 = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.timezone.utc).timestamp()
SERVED = ["i1", "i2", "i3", "i4", "i5"]
# Judge only the online quality here: no feature thresholds, unknown users allowed.
CONFIG = MonitorConfig(thresholds={}, max_unknown_user_share=1.0, max_unknown_item_share=1.0, salt=SALT)


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest
    from kubetfx.components.validate import executor as validate

    root = tmp_path_factory.mktemp("training")
    generate(str(root / "data"), GeneratorConfig(interactions=2000, seed=0))
    ingest.run(str(root / "data" / data.INTERACTIONS_FILE), str(root / "data" / data.USERS_FILE),
               str(root / "data" / data.ITEMS_FILE), str(root / "examples"), str(root / "ingest.md"))
    validate.run(str(root / "examples"), str(root / "statistics"), str(root / "schema"), str(root / "validate.html"))
    return root


def _world(tmp_path, last_day_hits: bool, unknown_rows: int = 0):
    """Three days of 40 answers each (user u<i> on day d at noon); each user then chooses, an hour
    later, the second served item (a hit at rank 2), except on the last day when `last_day_hits`
    is false (an item never served)."""
    log_root, records, outcomes = tmp_path / "requests", [], []
    for day in range(3):
        for user in range(40):
            moment = DAY0 + day * 86400 + user
            user_id = f"u{day}-{user}"
            records.append({"user": hash_user(user_id, SALT), "time": moment, "model_version": "1",
                            "features": {"age": 30}, "k": 5, "exclude": [], "items": SERVED, "scores": [5, 4, 3, 2, 1]})
            chosen = SERVED[1] if day < 2 or last_day_hits else "never-served"
            outcomes.append({"user_id": user_id, "item_id": chosen, "timestamp": moment + 3600})
            outcomes.append({"user_id": user_id, "item_id": "earlier", "timestamp": moment - 3600})  # before: not judged
    outcomes += [{"user_id": f"stranger-{i}", "item_id": "i1", "timestamp": DAY0 + 10} for i in range(unknown_rows)]
    folder = log_root / "2026-03-01"
    folder.mkdir(parents=True)
    (folder / f"{names.REQUEST_LOG_PREFIX}a{names.REQUEST_LOG_SUFFIX}").write_text(
        "\n".join(json.dumps(record) for record in records) + "\n")
    pd.DataFrame(outcomes).to_csv(tmp_path / "outcomes.csv", index=False)
    return sources.BatchSource(request_log_uri=str(log_root)), str(tmp_path / "outcomes.csv")


def _run(training, tmp_path, source, outcomes, retrainer=None, config=CONFIG):
    return executor.run(str(training / "statistics"), str(training / "examples"), source, str(tmp_path / "out"),
                        str(tmp_path / "report.html"), config, retrain=retrainer, outcomes_uri=outcomes)


def test_a_drop_in_online_quality_is_concept_drift_and_retrains_on_the_outcomes(training, tmp_path):
    source, outcomes = _world(tmp_path, last_day_hits=False, unknown_rows=7)
    asked = []
    result = _run(training, tmp_path, source, outcomes, retrainer=lambda request: asked.append(request) or "run-7")
    online = result["online"]
    assert [day["hit_rate"] for day in online["days"]] == [1.0, 1.0, 0.0]
    assert online["days"][0]["ndcg"] == pytest.approx(0.6309, abs=1e-4)  # one relevant item, at rank 2
    assert online["baseline"] == {"hit_rate": 1.0, "ndcg": pytest.approx(0.6309, abs=1e-4)}
    assert online["exceeded"] and online["drops"]["hit_rate"] == 1.0
    assert result["verdict"] == executor.DRIFT and any("online hit rate" in reason for reason in result["reasons"])
    assert result["retrain"] and result["retrain_run"] == "run-7" and asked[0].interactions_uri == outcomes
    assert online["unknown_outcome_users"] == {"rows": 7, "users": 7, "of_rows": 247}
    report = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in report and "belong to users the request log never served" in report
    assert (tmp_path / "out" / concept.PLOT_FILE).read_bytes().startswith(b"\x89PNG")
    assert executor.metrics(result)["online.hit_rate"] == 0.0


def test_steady_online_quality_is_no_drift(training, tmp_path):
    source, outcomes = _world(tmp_path, last_day_hits=True)
    result = _run(training, tmp_path, source, outcomes, retrainer=lambda request: pytest.fail("retrained"))
    assert not result["online"]["exceeded"] and result["online"]["drops"] == {"hit_rate": 0.0, "ndcg": 0.0}
    assert result["verdict"] == executor.OK and not result["retrain"]


def test_outcomes_need_the_salt_a_timestamp_and_a_request_log(training, tmp_path):
    source, outcomes = _world(tmp_path, last_day_hits=True)
    with pytest.raises(MonitorError, match="salt"):
        _run(training, tmp_path, source, outcomes, config=MonitorConfig(thresholds={}, max_unknown_user_share=1.0))
    pd.read_csv(outcomes).drop(columns=["timestamp"]).to_csv(tmp_path / "no-time.csv", index=False)
    with pytest.raises(MonitorError, match="has no column 'timestamp'"):
        _run(training, tmp_path, source, str(tmp_path / "no-time.csv"))
    interactions = sources.BatchSource(interactions_uri=outcomes)
    with pytest.raises(MonitorError, match="judged against a request log"):
        _run(training, tmp_path, interactions, outcomes)


def test_kubetfx_monitor_takes_outcomes(training, tmp_path, capsys):
    source, outcomes = _world(tmp_path, last_day_hits=False)
    (tmp_path / "salt").write_bytes(SALT)
    code = cli.main(["monitor", "--statistics", str(training / "statistics"), "--examples", str(training / "examples"),
                     "--request-log", source.request_log_uri, "--salt-file", str(tmp_path / "salt"),
                     "--outcomes", outcomes, "--max-online-drop", "0.5", "--max-unknown-user-share", "1",
                     "--out", str(tmp_path / "cli")])
    assert code == 1 and "concept drift" in capsys.readouterr().out
