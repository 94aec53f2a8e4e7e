"""`kubetfx serve`: recommendations over KServe's v1 and v2 protocols from a server on loopback,
refusals that name the problem, a hot swap on push, and a request log without raw user ids."""
import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from kserve.errors import InvalidInput

from kubetfx.components.common import fs
from kubetfx.components.push import executor as push
from kubetfx.pipelines.recommender import contract, names
from kubetfx.pipelines.recommender.serving import instances, process
from kubetfx.pipelines.recommender.serving.loaded import Batch, LoadedModel
from kubetfx.pipelines.recommender.serving.request_log import RequestLogger, hash_user

SALT = b"a-salt-for-tests-only-0123456789"
FEATURES = ("user_id", "age", "gender", "occupation")
RECENT_ITEMS = "recent_items"  # the reference model's optional list input
NEW_CATALOGUE = ["new-a", "new-b", "new-c", "new-d", "new-e"]
MAX_INSTANCES, MAX_BODY_BYTES = 8, 20_000


def _contract_model(path: str, catalogue: list[str], top_k: int = 3) -> str:
    """A small hand-built SavedModel under the kubetfx contract: the reference model's four raw
    features in, its own catalogue out, the first item scored best."""
    import tensorflow as tf

    dtypes = {"user_id": tf.string, "age": tf.int64, "gender": tf.string, "occupation": tf.string}
    spec = {name: tf.TensorSpec([None], dtype, name=name) for name, dtype in dtypes.items()}
    module = tf.Module()
    module.weights = tf.Variable(tf.range(len(catalogue), 0, -1, dtype=tf.float32))
    items = tf.constant(catalogue)

    def scores(features):
        rows = tf.shape(features["user_id"])[0]
        return tf.tile(module.weights[None, :], [rows, 1]) + 0.0 * tf.cast(features["age"][:, None], tf.float32)

    def recommend(features):
        best = tf.math.top_k(scores(features), k=top_k)
        return {"item_ids": tf.gather(items, best.indices), "scores": best.values}

    signatures = {
        contract.SIGNATURE_RECOMMEND: tf.function(recommend, input_signature=[spec]),
        contract.SIGNATURE_SCORE_CATALOGUE: tf.function(lambda f: {"scores": scores(f)}, input_signature=[spec]),
        contract.SIGNATURE_CATALOGUE: tf.function(lambda: {"item_ids": items}, input_signature=[]),
    }
    tf.saved_model.save(module, path, signatures=signatures)
    return path


def _push(model_dir: str, serving_root, tmp, version: str) -> None:
    blessing = tmp / f"blessing-{version}"
    fs.write_json(str(blessing / names.BLESSING_FILE), {"blessed": True, "gates": []})
    push.run(model_dir, str(blessing), str(serving_root), str(tmp / f"push-{version}.md"), version=version)


@pytest.fixture(scope="module")
def known_user(synthetic_data):
    import pandas as pd

    from kubetfx.pipelines.recommender import data

    row = pd.read_csv(synthetic_data / data.USERS_FILE, dtype={"user_id": str}).iloc[0]
    return {"user_id": row["user_id"], "age": int(row["age"]), "gender": row["gender"], "occupation": row["occupation"]}


@pytest.fixture(scope="module")
def served(trained, tmp_path_factory):
    """The trained model pushed as version 1 and served from a child process on loopback."""
    tmp = tmp_path_factory.mktemp("served")
    serving_root, log_root, salt_file = tmp / "serving", tmp / "requests", tmp / "salt"
    salt_file.write_bytes(SALT)
    _push(trained[1]["serving_model_dir"], serving_root, tmp, "1")
    args = ["--serving-root", str(serving_root), "--poll-seconds", "0.2", "--max-instances", str(MAX_INSTANCES),
            "--max-body-bytes", str(MAX_BODY_BYTES), "--request-log-root", str(log_root),
            "--request-log-salt-file", str(salt_file), "--request-log-rotate-seconds", "0.2"]
    with process.running(args, str(tmp / "server.log")) as base_url:
        yield {"url": base_url, "root": serving_root, "logs": log_root, "tmp": tmp}


def _post(url: str, body, content_type: str = "application/json"):
    """(status, JSON answer, headers) of a POST; `body` is JSON-encoded unless already bytes."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), error.headers


def _predict(served, instances_):
    return _post(f"{served['url']}/v1/models/{names.SERVING_MODEL_NAME}:predict", {"instances": instances_})


def test_known_and_unknown_users_get_top_k_items_best_first(served, known_user, trained):
    unknown = {**known_user, "user_id": "nobody-ever-seen"}
    status, answer, headers = _predict(served, [{**known_user, "k": 5}, unknown])
    assert status == 200 and headers["x-model-version"] == "1"
    first, second = answer["predictions"]
    assert len(first["items"]) == 5 and len(second["items"]) == 10  # asked k, and the default 10
    for prediction in answer["predictions"]:
        assert prediction["scores"] == sorted(prediction["scores"], reverse=True)
        assert len(set(prediction["items"])) == len(prediction["items"])
    excluded = first["items"][:2]
    status, answer, _ = _predict(served, [{**known_user, "k": 5, "exclude": excluded}])
    assert status == 200 and not set(excluded) & set(answer["predictions"][0]["items"])
    assert answer["predictions"][0]["items"][:3] == first["items"][2:5]


def test_the_v2_protocol_answers_tensors_and_describes_the_model(served, known_user):
    inputs = [{"name": name, "shape": [1], "datatype": "INT64" if name == "age" else "BYTES", "data": [known_user[name]]}
              for name in FEATURES]
    status, answer, _ = _post(f"{served['url']}/v2/models/{names.SERVING_MODEL_NAME}/infer",
                              {"inputs": inputs, "parameters": {"k": 4}})
    assert status == 200 and answer["model_version"] == "1"
    outputs = {output["name"]: output for output in answer["outputs"]}
    assert outputs["item_ids"]["shape"] == [1, 4] and outputs["scores"]["datatype"] == "FP32"
    with urllib.request.urlopen(f"{served['url']}/v2/models/{names.SERVING_MODEL_NAME}", timeout=10) as response:
        metadata = json.load(response)
    assert {tensor["name"] for tensor in metadata["inputs"]} == {*FEATURES, RECENT_ITEMS, names.REQUEST_EXCLUDE}
    assert next(t for t in metadata["inputs"] if t["name"] == RECENT_ITEMS)["shape"] == [-1, -1]


def test_recent_items_in_the_request_change_the_answer(served, known_user):
    """The reference model's optional `recent_items` (a shopper's session) replaces the user's
    training history in the user tower: the same user with another session gets other items."""
    _, plain, _ = _predict(served, [known_user])
    session = plain["predictions"][0]["items"][-3:]
    status, answer, _ = _predict(served, [{**known_user, RECENT_ITEMS: session}, {**known_user, RECENT_ITEMS: []}])
    assert status == 200
    with_session, empty = answer["predictions"]
    assert with_session["items"] != plain["predictions"][0]["items"]
    assert empty["items"] == plain["predictions"][0]["items"], "an empty session falls back to the training history"
    inputs = [{"name": name, "shape": [1], "datatype": "INT64" if name == "age" else "BYTES", "data": [known_user[name]]}
              for name in FEATURES] + [{"name": RECENT_ITEMS, "shape": [1, 4], "datatype": "BYTES", "data": [*session, ""]}]
    status, v2, _ = _post(f"{served['url']}/v2/models/{names.SERVING_MODEL_NAME}/infer", {"inputs": inputs})
    outputs = {output["name"]: output for output in v2["outputs"]}
    assert status == 200 and outputs["item_ids"]["data"] == with_session["items"]
    status, bad, _ = _predict(served, [{**known_user, RECENT_ITEMS: "50"}])
    assert status == 400 and f"feature '{RECENT_ITEMS}' must be a list of item ids" in bad["error"]


def test_explanations_are_returned_when_asked_over_v1_and_v2(served, known_user):
    """`"explain": true` (v1, per instance) or the `explain` parameter (v2): each item's reasons, the
    session items whose removal lowers its score most (checked against the model in test_explanations)."""
    _, plain, _ = _predict(served, [known_user])
    session = plain["predictions"][0]["items"][-4:]
    status, answer, _ = _predict(served, [{**known_user, RECENT_ITEMS: session, "k": 3, "explain": True},
                                          {**known_user, "k": 3}])
    assert status == 200
    explained, unexplained = answer["predictions"]
    assert explained["history_source"] == "request" and len(explained["reasons"]) == 3
    assert any(explained["reasons"]) and all(r["item"] in session and r["score_drop"] > 0
                                             for reasons in explained["reasons"] for r in reasons)
    assert set(unexplained) == {"items", "scores"}  # not asked: nothing extra, nothing computed
    inputs = [{"name": name, "shape": [1], "datatype": "INT64" if name == "age" else "BYTES", "data": [known_user[name]]}
              for name in FEATURES] + [{"name": RECENT_ITEMS, "shape": [1, 4], "datatype": "BYTES", "data": session}]
    status, v2, _ = _post(f"{served['url']}/v2/models/{names.SERVING_MODEL_NAME}/infer",
                          {"inputs": inputs, "parameters": {"k": 3, "explain": True}})
    outputs = {output["name"]: output for output in v2["outputs"]}
    assert status == 200 and outputs["item_ids"]["data"] == explained["items"]
    assert outputs["reason_items"]["shape"] == [1, 3, 3] and outputs["reason_score_drops"]["datatype"] == "FP32"
    first = [r["item"] for r in explained["reasons"][0]]
    assert outputs["reason_items"]["data"][:3] == first + [""] * (3 - len(first))


@pytest.mark.parametrize("mutate, status, message", [
    (lambda i: {k: v for k, v in i.items() if k != "age"}, 400, "instance 0: missing feature 'age'"),
    (lambda i: {**i, "age": "38"}, 400, "feature 'age' must be an integer, got a string '38'"),
    (lambda i: {**i, "user_id": 42}, 400, "feature 'user_id' must be a string, got an integer"),
    (lambda i: {**i, "colour": "red"}, 400, "instance 0: unknown field 'colour'"),
    (lambda i: {**i, "k": 0}, 400, "'k' must be an integer from 1 to"),
    (lambda i: {**i, "exclude": "p1"}, 400, "'exclude' must be a list of item ids"),
])
def test_a_bad_instance_gets_400_naming_the_problem(served, known_user, mutate, status, message):
    answered, answer, _ = _predict(served, [mutate(known_user)])
    assert answered == status and message in answer["error"]


def test_bad_bodies_get_4xx_and_the_server_keeps_serving(served, known_user):
    url = f"{served['url']}/v1/models/{names.SERVING_MODEL_NAME}:predict"
    oversize = {"instances": [known_user] * (MAX_BODY_BYTES // 40)}
    cases = [
        (_post(url, oversize), 413, f"over the limit of {MAX_BODY_BYTES} bytes"),
        (_predict(served, [known_user] * (MAX_INSTANCES + 1)), 400, f"at most {MAX_INSTANCES} are accepted"),
        (_post(url, b"{not json"), 400, "Unrecognized request format"),
        (_post(url, {"instances": [known_user], "extra": 1}), 400, "one field, 'instances'"),
        (_post(url, json.dumps({"instances": [known_user]}).encode(), "text/plain"), 400, "Content-Type: application/json"),
        (_post(f"{served['url']}/v2/models/{names.SERVING_MODEL_NAME}/infer",
               {"inputs": [{"name": "user_id", "shape": [1], "datatype": "BYTES", "data": ["1"]}]}),
         400, "missing input 'age'"),
    ]
    for (status, answer, _), expected_status, message in cases:
        assert status == expected_status and message in answer["error"], answer
    assert _predict(served, [known_user])[0] == 200
    with urllib.request.urlopen(f"{served['url']}/v2/health/live", timeout=10) as response:
        assert response.status == 200


def test_readiness_and_prometheus_metrics(served):
    with urllib.request.urlopen(f"{served['url']}/v1/models/{names.SERVING_MODEL_NAME}", timeout=10) as response:
        assert json.load(response) == {"name": names.SERVING_MODEL_NAME, "ready": True}
    with urllib.request.urlopen(f"{served['url']}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert f'request_predict_seconds_count{{model_name="{names.SERVING_MODEL_NAME}"}}' in metrics
    assert "kubetfx_request_log_dropped_total" in metrics


def test_the_request_log_holds_hashed_user_ids_never_raw_ones(served, known_user):
    raw_id = "shopper-4711"
    assert _predict(served, [{**known_user, "user_id": raw_id, "exclude": ["1"]}])[0] == 200
    hashed = hash_user(raw_id, SALT)
    deadline, records, texts = time.monotonic() + 30, [], []
    while time.monotonic() < deadline and not any(record.get("user") == hashed for record in records):
        texts = [path.read_text() for path in served["logs"].glob(f"*/*{names.REQUEST_LOG_SUFFIX}")]
        records = [json.loads(line) for text in texts for line in text.splitlines()]
        time.sleep(0.1)
    mine = [record for record in records if record.get("user") == hashed]
    assert mine, "the request was not logged"
    assert mine[0]["features"] == {k: v for k, v in known_user.items() if k != "user_id"}
    assert mine[0]["exclude"] == ["1"] and len(mine[0]["items"]) == 10 and mine[0]["model_version"] == "1"
    assert not any(raw_id in text for text in texts)
    assert not any(known_user["user_id"] in (record.get("user"), *record["features"].values()) for record in records)


def test_a_new_push_is_served_without_dropping_a_request(served, known_user):
    """Runs last in this module: from here on version 2 is served."""
    statuses, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            statuses.append(_predict(served, [known_user])[0])

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        new_model = _contract_model(str(served["tmp"] / "hand-built"), NEW_CATALOGUE)
        _push(new_model, served["root"], served["tmp"], "2")
        deadline = time.monotonic() + 60
        while _predict(served, [known_user])[2]["x-model-version"] != "2":
            assert time.monotonic() < deadline, "version 2 was not served within 60 s of its push"
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
    assert statuses and set(statuses) == {200}, f"{len(statuses)} requests during the swap: {set(statuses)}"
    status, answer, _ = _predict(served, [{**known_user, "k": 4, "exclude": ["new-b"]}])
    assert status == 200 and answer["predictions"][0]["items"] == ["new-a", "new-c", "new-d", "new-e"]


# --- the parts, without a server -----------------------------------------------------------

@pytest.fixture(scope="module")
def hand_built(tmp_path_factory):
    return LoadedModel(_contract_model(str(tmp_path_factory.mktemp("hand") / "model"), NEW_CATALOGUE), "7")


def _batch(ks, excludes):
    columns = {"user_id": ["u"] * len(ks), "age": [30] * len(ks), "gender": ["F"] * len(ks), "occupation": ["x"] * len(ks)}
    return Batch(columns, list(ks), [frozenset(e) for e in excludes])


def test_exclusions_beyond_the_models_top_k_rank_the_whole_catalogue(hand_built):
    assert hand_built.top_k == 3 and hand_built.features["age"] == "integer"
    shallow, deep, everything = hand_built.recommend(_batch([2, 2, 5], [{"new-a"}, {"new-a", "new-b", "new-c"}, {"new-e", "x"}]))
    assert shallow.items == ["new-b", "new-c"]
    assert deep.items == ["new-d", "new-e"] and deep.scores == sorted(deep.scores, reverse=True)
    assert everything.items == ["new-a", "new-b", "new-c", "new-d"]  # fewer than asked once all else is excluded


def test_v2_tensors_are_checked_like_v1_instances():
    from kserve.protocol.infer_type import InferInput, InferRequest

    features = {"user_id": "string", "age": "integer"}

    def request(*tensors, parameters=None):
        return InferRequest("recommender", list(tensors), parameters=parameters)

    good = request(InferInput("user_id", [2], "BYTES", ["a", "b"]), InferInput("age", [2], "INT64", [30, 40]),
                   InferInput("exclude", [2, 2], "BYTES", [["p1", ""], ["", ""]]), parameters={"k": 3})
    batch = instances.from_v2(good, features, 8, 10, 100)
    assert batch.columns == {"user_id": ["a", "b"], "age": [30, 40]} and batch.ks == [3, 3]
    with_items = {**features, RECENT_ITEMS: "items"}
    assert instances.from_v2(good, with_items, 8, 10, 100).columns == batch.columns  # optional: absent, left out
    session = request(InferInput("user_id", [2], "BYTES", ["a", "b"]), InferInput("age", [2], "INT64", [30, 40]),
                      InferInput(RECENT_ITEMS, [2, 2], "BYTES", [["p1", "p2"], ["p3", ""]]))
    assert instances.from_v2(session, with_items, 8, 10, 100).columns[RECENT_ITEMS] == [["p1", "p2"], ["p3"]]
    v1 = instances.from_v1({"instances": [{"user_id": "a", "age": 1, RECENT_ITEMS: ["p1"]}, {"user_id": "b", "age": 2}]},
                           with_items, 8, 10, 100)
    assert v1.columns[RECENT_ITEMS] == [["p1"], []]
    assert batch.excludes == [frozenset({"p1"}), frozenset()]
    bad = {
        "datatype INT64": request(InferInput("user_id", [1], "BYTES", ["a"]), InferInput("age", [1], "BYTES", ["30"])),
        "same number of instances": request(InferInput("user_id", [2], "BYTES", ["a", "b"]), InferInput("age", [1], "INT64", [3])),
        "unknown input 'colour'": request(InferInput("colour", [1], "BYTES", ["red"])),
        "'k' must be an integer": request(InferInput("user_id", [1], "BYTES", ["a"]), InferInput("age", [1], "INT64", [3]),
                                          parameters={"k": 1000}),
    }
    for message, wrong in bad.items():
        with pytest.raises(InvalidInput, match=message):
            instances.from_v2(wrong, features, 8, 10, 100)


def test_a_push_that_cannot_be_served_leaves_the_served_model_in_place(hand_built, tmp_path):
    from kubetfx.pipelines.recommender.serving.watcher import LatestWatcher

    root = tmp_path / "serving"
    _push(hand_built.model_dir, root, tmp_path, "7")
    broken = tmp_path / "broken"
    (broken / "variables").mkdir(parents=True)
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    _push(str(broken), root, tmp_path, "8")
    swapped = []
    watcher = LatestWatcher(str(root), "7", swapped.append, poll_seconds=60)
    watcher.check_once()
    watcher.check_once()
    assert swapped == []
    _push(hand_built.model_dir, root, tmp_path, "9")
    watcher.check_once()
    assert [model.version for model in swapped] == ["9"]


def test_the_request_log_never_waits_drops_and_counts_when_full_and_rotates(tmp_path, monkeypatch):
    from prometheus_client import REGISTRY

    from kubetfx.pipelines.recommender.serving.config import RequestLogConfig

    release, real_write = threading.Event(), fs.write_text

    def slow_write(path, text):
        release.wait(30)  # a store that hangs: the writer thread is stuck here
        real_write(path, text)

    monkeypatch.setattr(fs, "write_text", slow_write)
    dropped_before = REGISTRY.get_sample_value("kubetfx_request_log_dropped_total") or 0.0
    logger = RequestLogger(RequestLogConfig(log_root=str(tmp_path), salt=SALT, queue_size=5, records_per_file=2,
                                            seconds_per_file=60))
    started = time.perf_counter()
    for index in range(200):
        logger.log({"index": index}, user_id=f"user-{index}")
    assert time.perf_counter() - started < 0.5, "logging waited for the store"
    dropped = REGISTRY.get_sample_value("kubetfx_request_log_dropped_total") - dropped_before
    assert 190 <= dropped <= 195  # at most the queue and the batch the writer holds got through
    release.set()
    logger.close()
    files = sorted(tmp_path.glob(f"*/*{names.REQUEST_LOG_SUFFIX}"))
    records = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    assert len(records) == 200 - dropped and all(len(path.read_text().splitlines()) <= 2 for path in files)
    assert records[0]["user"] == hash_user(f"user-{records[0]['index']}", SALT)
    assert not list(tmp_path.glob("*/.*"))  # no temporary file left behind


def test_the_first_model_is_a_fixed_folder_or_what_latest_points_to(hand_built, tmp_path):
    from kubetfx.components.common.errors import ServingError
    from kubetfx.pipelines.recommender.serving.config import ServeConfig
    from kubetfx.pipelines.recommender.serving.server import first_model

    fixed = first_model(ServeConfig(model_dir=hand_built.model_dir, model_version="20250101"))
    assert fixed.version == "20250101" and fixed.catalogue == NEW_CATALOGUE
    with pytest.raises(ServingError, match="no blessed model has been pushed to .*no LATEST pointer"):
        first_model(ServeConfig(serving_root=str(tmp_path / "empty")))
    with pytest.raises(ValueError, match="either a serving root .* or a model folder"):
        ServeConfig(serving_root="a", model_dir="b")
