"""The monitor: drift found on exactly the planted shift and not on a fresh sample of the training
distribution, skew in a request log, retraining through the hook, and the compiled pipeline."""
import pathlib

import pytest
import yaml

from kubetfx import cli, retrain
from kubetfx.components.common import names
from kubetfx.components.common.errors import MonitorError
from kubetfx.pipelines.recommender.components.monitor import drift, executor, sources
from kubetfx.pipelines.recommender.components.monitor.config import DEFAULT_THRESHOLDS, MonitorConfig
from kubetfx.pipelines.recommender import data
from kubetfx.pipelines.recommender.generator import GeneratorConfig, generate

REPO = pathlib.Path(__file__).resolve().parents[1]
INTERACTIONS = 50_000  # 1,000 users: the categories' sampling noise stays well under their thresholds
SALT = b"another-salt-for-tests-0123456789"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Training data (seed 0) through ingest and validate; a batch with age shifted by 15 years and
    50 products training never saw; a fresh sample of the training distribution (another seed)."""
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest
    from kubetfx.components.validate import executor as validate

    root = tmp_path_factory.mktemp("monitor")
    configs = {"train": GeneratorConfig(interactions=INTERACTIONS, seed=0),
               "shifted": GeneratorConfig(interactions=INTERACTIONS, seed=1, shift_feature="age", new_items=50),
               "fresh": GeneratorConfig(interactions=INTERACTIONS, seed=2)}
    for name, config in configs.items():
        generate(str(root / name), config)
    train = root / "train"
    ingest.run(str(train / data.INTERACTIONS_FILE), str(train / data.USERS_FILE), str(train / data.ITEMS_FILE),
               str(root / "examples"), str(root / "ingest.md"))
    validate.run(str(root / "examples"), str(root / "statistics"), str(root / "schema"), str(root / "validate.html"))
    return root


def _source(world, name: str) -> sources.BatchSource:
    folder = world / name
    return sources.BatchSource(interactions_uri=str(folder / data.INTERACTIONS_FILE),
                               users_uri=str(folder / data.USERS_FILE), items_uri=str(folder / data.ITEMS_FILE))


def _monitor(world, source, name, config=MonitorConfig(), retrainer=None):
    return executor.run(str(world / "statistics"), str(world / "examples"), source, str(world / f"out-{name}"),
                        str(world / f"{name}.html"), config, retrain=retrainer)


def test_the_planted_shift_is_drift_on_age_only_with_new_items_and_retrains_on_the_new_data(world):
    asked = []
    result = _monitor(world, _source(world, "shifted"), "shifted", retrainer=lambda request: asked.append(request) or "run-1")
    distances = {f["feature"]: f["distance"] for f in result["features"]}
    assert result["drifted_features"] == ["age"], distances
    assert distances["age"] > 2 * DEFAULT_THRESHOLDS["age"]
    assert result["unknown_items"]["exceeded"] and 0.015 < result["unknown_items"]["share"] < 0.03
    assert not result["unknown_users"]["exceeded"]
    assert result["verdict"] == executor.DRIFT and result["retrain"] and result["retrain_run"] == "run-1"
    assert [request.interactions_uri for request in asked] == [_source(world, "shifted").interactions_uri]
    assert "age: distribution drifted from training" in asked[0].reasons
    report = (world / "shifted.html").read_text()
    assert "DRIFT" in report and "jensen_shannon_divergence" in report and "run-1" in report
    assert (world / "out-shifted" / names.MONITOR_RESULT_FILE).exists()
    assert (world / "out-shifted" / f"{names.SPLIT_PREFIX}{executor.BATCH_SPLIT}" / names.FEATURE_STATS_FILE).exists()
    assert executor.metrics(result)["drift.age"] == distances["age"]


def test_a_fresh_sample_of_the_training_distribution_shows_no_drift(world):
    asked = []
    result = _monitor(world, _source(world, "fresh"), "fresh", retrainer=asked.append)
    distances = {f["feature"]: f["distance"] for f in result["features"]}
    assert result["drifted_features"] == [] and result["verdict"] == executor.OK, distances
    assert all(distances[name] < threshold / 1.5 for name, threshold in DEFAULT_THRESHOLDS.items()), distances
    assert result["unknown_items"]["share"] < 0.002 and not result["retrain"] and asked == []


def test_a_request_log_shows_feature_skew_and_unknown_users(world, tmp_path):
    from kubetfx.pipelines.recommender.serving.config import RequestLogConfig
    from kubetfx.pipelines.recommender.serving.request_log import RequestLogger

    training = sources.read_training(str(world / "examples"), sorted(DEFAULT_THRESHOLDS))
    known_item = sorted(training.items)[0]
    log_root = tmp_path / "requests"
    logger = RequestLogger(RequestLogConfig(log_root=str(log_root), salt=SALT, records_per_file=100))
    for index, user_id in enumerate(sorted(training.users)[:300]):
        features = dict(training.user_features[user_id])
        if index % 10 == 1:  # an age in months: the serving path's bug the monitor must see
            features["age"] *= 12
        if index % 5 == 0:  # a fifth are users training never saw
            user_id = f"new-user-{index}"
        logger.log({"features": features, "exclude": [known_item] if index % 2 else ["p-new"]}, user_id=user_id)
    logger.close()
    source = sources.BatchSource(request_log_uri=str(log_root))
    config = MonitorConfig(salt=SALT, max_unknown_user_share=0.5)
    result = _monitor(world, source, "requests", config)
    skew = {f["feature"]: f for f in result["feature_skew"]}
    assert skew["age"]["exceeded"] and skew["age"]["compared"] == 240 and skew["age"]["share"] == pytest.approx(30 / 240)
    assert skew["gender"]["share"] == 0.0 and skew["occupation"]["share"] == 0.0
    assert result["unknown_users"]["share"] == pytest.approx(0.2)
    assert result["unknown_items"]["share"] == pytest.approx(0.5)  # p-new: an item training never saw
    assert "age" in result["skewed_features"] and result["verdict"] == executor.DRIFT and not result["retrain"]
    unsalted = _monitor(world, source, "unsalted", MonitorConfig())
    assert unsalted["feature_skew"] == [] and unsalted["unknown_users"]["share"] is None


def test_thresholds_for_features_training_lacks_are_refused(world):
    with pytest.raises(MonitorError, match=r"thresholds name \['agee'\]"):
        _monitor(world, _source(world, "fresh"), "typo", MonitorConfig(thresholds={"agee": 0.1}))


def test_submitted_retraining_hands_the_new_data_to_kubetfx_submit():
    runs = []
    retrainer = retrain.submitted(lambda run: runs.append(run) or 0, "compile/recommender.yaml", {"serving_root": "gs://b/s"})
    answer = retrainer(retrain.RetrainRequest(interactions_uri="gs://b/new.csv", users_uri="gs://b/users.csv"))
    assert answer == "submitted compile/recommender.yaml"
    assert runs[0].spec_path == "compile/recommender.yaml"
    assert runs[0].parameters == {"serving_root": "gs://b/s", "interactions_uri": "gs://b/new.csv",
                                  "users_uri": "gs://b/users.csv", "items_uri": ""}
    failing = retrain.submitted(lambda run: 1, "compile/recommender.yaml")
    with pytest.raises(MonitorError, match="submitting compile/recommender.yaml"):
        failing(retrain.RetrainRequest(interactions_uri="x"))


def _stats(age_buckets: dict, genders: dict) -> drift.Statistics:
    """One dataset: age as a 10-wide-bucket histogram {low: count}, gender as {value: count}."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add(num_examples=int(sum(age_buckets.values())))
    age = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.INT)
    age.path.step.append("age")
    age.num_stats.common_stats.num_non_missing = age.num_stats.common_stats.tot_num_values = dataset.num_examples
    age.num_stats.common_stats.min_num_values = age.num_stats.common_stats.max_num_values = 1
    age.num_stats.min, age.num_stats.max = min(age_buckets), max(age_buckets) + 10
    histogram = age.num_stats.histograms.add(type=statistics_pb2.Histogram.STANDARD)
    for low, count in sorted(age_buckets.items()):
        histogram.buckets.add(low_value=low, high_value=low + 10, sample_count=count)
    gender = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.STRING)
    gender.path.step.append("gender")
    common = gender.string_stats.common_stats
    common.num_non_missing = common.tot_num_values = int(sum(genders.values()))
    common.min_num_values = common.max_num_values = 1
    gender.string_stats.unique = len(genders)
    for rank, (value, count) in enumerate(sorted(genders.items(), key=lambda item: -item[1])):
        gender.string_stats.top_values.add(value=value, frequency=count)
        gender.string_stats.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=value, sample_count=count)
    return stats


def test_the_distances_are_tfdvs_comparators():
    training = _stats({0: 5, 10: 5}, {"a": 5, "b": 5})
    assert drift.metrics(training) == {"age": drift.JENSEN_SHANNON, "gender": drift.L_INFINITY}
    thresholds = {"age": 0.1, "gender": 0.1}
    for comparison in (drift.DRIFT, drift.SKEW):
        same = drift.distances(training, _stats({0: 50, 10: 50}, {"a": 8, "b": 8}), thresholds, comparison)
        assert same == pytest.approx({"age": 0.0, "gender": 0.0})
        apart = drift.distances(training, _stats({20: 2}, {"a": 8, "c": 2}), thresholds, comparison)
        assert apart == pytest.approx({"age": 1.0, "gender": 0.5})  # age: disjoint; gender: b's 0.5 against 0
        # age as text in the batch: TFDV measures nothing, and that is as far apart as it gets
        text = _stats({0: 5, 10: 5}, {"a": 5, "b": 5})
        text.datasets[0].features[0].type = text.datasets[0].features[1].type
        text.datasets[0].features[0].string_stats.CopyFrom(text.datasets[0].features[1].string_stats)
        assert drift.distances(training, text, thresholds, comparison)["age"] == drift.UNMEASURED
        assert drift.distances(training, _stats({0: 5}, {"a": 5}), {"gender": 0.1}, comparison) == {"gender": 0.5}


# --- the pipeline ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    assert cli.main(["compile", "--out", str(out)]) == 0
    return out / cli.MONITOR_COMPILED_FILE


def test_committed_monitor_spec_is_current(compiled):
    committed = REPO / "compile" / cli.MONITOR_COMPILED_FILE
    assert committed.exists() and compiled.read_text() == committed.read_text(), \
        "compile/ is stale: run `make compile` and commit it"


def test_the_monitor_pipeline_retrains_only_on_drift(compiled):
    spec = yaml.safe_load(compiled.read_text())
    root = spec["root"]["dag"]["tasks"]
    assert {"importer", "importer-2", names.TASK_MONITOR} <= set(root)
    condition = next(task for task in root.values() if "triggerPolicy" in task)
    assert "pipelinechannel--monitor-Output" in condition["triggerPolicy"]["condition"]
    retrain_task = spec["components"][condition["componentRef"]["name"]]["dag"]["tasks"]
    (nested,) = retrain_task.values()
    assert set(names.STEPS) <= set(spec["components"][nested["componentRef"]["name"]]["dag"]["tasks"]) | {names.TASK_PUSH}
    assert set(nested["inputs"]["parameters"]) == {"interactions_uri", "users_uri", "items_uri", "serving_root",
                                                   "request_log_root", "request_log_salt_uri"}
