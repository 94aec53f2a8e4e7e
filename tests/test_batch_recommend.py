"""Batch recommendations: every user of a table or a listed few, each user's own top-k, in
Parquet, from the version LATEST points to; bad input named; no partial file on failure."""
import logging

import pandas as pd
import pyarrow.parquet as pq
import pytest

from kubetfx import cli
from kubetfx.pipelines.recommender.components.batch_recommend import executor
from kubetfx.components.common import timing
from kubetfx.components.common.errors import InputDataError
import contract_model

CATALOGUE = [f"item-{i}" for i in range(12)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return contract_model.build(str(tmp_path_factory.mktemp("model") / "model"), CATALOGUE)


@pytest.fixture(scope="module")
def loaded(model_dir):
    from kubetfx.pipelines.recommender.serving.loaded import LoadedModel

    return LoadedModel(model_dir, "7")


@pytest.fixture()
def users(tmp_path):
    path = tmp_path / "users.csv"
    pd.DataFrame({"user_id": [f"u{i}" for i in range(25)], "age": list(range(20, 45)),
                  "gender": ["F", "M"] * 12 + ["F"], "occupation": ["clerk"] * 25}).to_csv(path, index=False)
    return path


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_every_user_of_a_table_gets_their_own_top_k_in_batches_with_progress(loaded, users, tmp_path):
    out = tmp_path / "recommendations.parquet"
    config = executor.BatchRecommendConfig(k=3, batch_size=4, progress_seconds=1e-9)
    lines = _Lines()
    timing.configure_logging()
    timing.LOG.addHandler(lines)  # the kubetfx logger does not propagate to pytest's capture
    try:
        figures = executor.run(loaded.model_dir, "7", str(out), str(tmp_path / "report.md"),
                               user_table_uri=str(users), config=config, model=loaded)
    finally:
        timing.LOG.removeHandler(lines)
    table = pq.read_table(out).to_pandas()
    assert figures["users"] == len(table) == 25 and figures["users_per_second"] > 0
    ages = dict(zip(pd.read_csv(users)["user_id"], pd.read_csv(users)["age"]))
    for row in table.itertuples():
        assert len(row.items) == 3 and list(row.scores) == sorted(row.scores, reverse=True)
        assert row.items[0] == CATALOGUE[ages[row.user_id] % len(CATALOGUE)], row  # this user's own best item
        assert row.model_version == "7"
    progress = [line for line in lines.lines if "users/s" in line]
    assert len(progress) == 7 and progress[-1].startswith("[batch_recommend] 25/25 users (100%)")  # 25 users in 7 batches
    assert "25" in (tmp_path / "report.md").read_text()


def test_a_list_of_users_takes_features_from_the_table_and_counts_users_it_lacks(loaded, users, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("u3\nnobody\n\nu3\nu10\n")
    out = tmp_path / "few.parquet"
    figures = executor.run(loaded.model_dir, "7", str(out), str(tmp_path / "r.md"), user_table_uri=str(users),
                           user_ids_uri=str(ids), config=executor.BatchRecommendConfig(k=2), model=loaded)
    table = pq.read_table(out).to_pandas().set_index("user_id")
    assert list(table.index) == ["u3", "nobody", "u10"] and figures["users_not_in_table"] == 1
    assert table.loc["u3", "items"][0] == CATALOGUE[23 % 12] and table.loc["u10", "items"][0] == CATALOGUE[30 % 12]
    assert table.loc["nobody", "items"][0] == CATALOGUE[0]  # neutral features: age 0


def test_k_beyond_the_models_own_top_k_ranks_the_whole_catalogue(loaded, users, tmp_path):
    out = tmp_path / "deep.parquet"
    executor.run(loaded.model_dir, "7", str(out), str(tmp_path / "r.md"), user_table_uri=str(users),
                 config=executor.BatchRecommendConfig(k=len(CATALOGUE)), model=loaded)
    assert all(sorted(items) == sorted(CATALOGUE) for items in pq.read_table(out).column("items").to_pylist())


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"user_id": ["a"], "age": [30], "gender": ["F"]}), "has no column 'occupation', which the model takes"),
    (pd.DataFrame({"user_id": ["a", "b"], "age": [30, "old"], "gender": ["F", "M"], "occupation": ["x", "y"]}),
     "row 2, column 'age': expected a number, got 'old'"),
    (pd.DataFrame({"user_id": ["a", "a"], "age": [30, 31], "gender": ["F", "M"], "occupation": ["x", "y"]}),
     "row 2: user_id 'a' appears twice"),
])
def test_bad_user_tables_are_refused_naming_the_problem_and_nothing_is_written(loaded, tmp_path, frame, message):
    table, out = tmp_path / "users.csv", tmp_path / "out.parquet"
    frame.to_csv(table, index=False)
    with pytest.raises(InputDataError, match=message):
        executor.run(loaded.model_dir, "7", str(out), str(tmp_path / "r.md"), user_table_uri=str(table), model=loaded)
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob(".*.tmp"))


def test_a_failure_midway_leaves_no_partial_file(loaded, users, tmp_path, monkeypatch):
    out = tmp_path / "out.parquet"
    calls = []

    def failing(batch):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("model crashed")
        return type(loaded).recommend(loaded, batch)

    monkeypatch.setattr(loaded, "recommend", failing)
    with pytest.raises(RuntimeError):
        executor.run(loaded.model_dir, "7", str(out), str(tmp_path / "r.md"), user_table_uri=str(users),
                     config=executor.BatchRecommendConfig(batch_size=5), model=loaded)
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_kubetfx_recommend_uses_the_version_latest_points_to(model_dir, users, tmp_path, capsys):
    serving_root = tmp_path / "serving"
    contract_model.push(model_dir, str(serving_root), tmp_path, "3")
    out = tmp_path / "all.parquet"
    assert cli.main(["recommend", "--serving-root", str(serving_root), "--users", "all", "--user-table", str(users),
                     "--k", "4", "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 25 and set(table.column("model_version").to_pylist()) == {"3"}
    assert "top-4 of 25 users" in capsys.readouterr().out and (tmp_path / "all.md").exists()
    with pytest.raises(SystemExit, match="--users all needs --user-table"):
        cli.main(["recommend", "--serving-root", str(serving_root), "--users", "all", "--out", str(out)])
    assert cli.main(["recommend", "--serving-root", str(tmp_path / "empty"), "--users", "all",
                     "--user-table", str(users), "--out", str(out)]) == 2  # nothing pushed there: a clear error


def test_the_pipeline_step_is_off_by_default_and_reads_the_pushed_model_when_compiled_in(tmp_path):
    import yaml

    from kubetfx.pipelines.recommender import pipeline

    def tasks(folder):
        spec = yaml.safe_load((folder / cli.COMPILED_FILE).read_text())
        found = dict(spec["root"]["dag"]["tasks"])
        for component in spec["components"].values():
            found.update(component.get("dag", {}).get("tasks", {}))
        return found

    assert cli.main(["compile", "--out", str(tmp_path / "off")]) == 0
    assert not any("batch" in name for name in tasks(tmp_path / "off"))
    assert cli.main(["compile", "--out", str(tmp_path / "on"), "--batch-recommend"]) == 0
    batch = tasks(tmp_path / "on")["batch-recommend"]
    assert batch["taskInfo"]["name"] == pipeline.TASK_BATCH_RECOMMEND
    source = batch["inputs"]["artifacts"]["pushed_model"]
    assert "push" in (source.get("taskOutputArtifact", {}).get("producerTask") or source["componentInputArtifact"])
    assert "users_uri" in str(batch["inputs"]["parameters"]["users_uri"])
