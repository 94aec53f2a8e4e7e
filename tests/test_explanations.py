"""Explanations are the model's own: each reason is a history item whose removal lowers the
recommended item's score, by the drop the explanation states (re-scored through the model here)."""
import numpy as np
import pytest

from kubetfx.components.common import names
from kubetfx.pipelines.recommender import contract, explain
from kubetfx.pipelines.recommender.serving import instances
from kubetfx.pipelines.recommender.serving.loaded import LoadedModel

CATALOGUE = ["a", "b", "c", "d", "e", "f"]
# Item vectors: a and b point one way, c and d another, e and f a third; a user is the mean of
# their history's vectors, so a history item pulls up the items that point its way.
VECTORS = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.1, 0.9, 0], [0, 0, 1], [0.2, 0, 0.8]], np.float32)
STORED = {"u1": ["a", "c", "e"], "u2": ["d"]}


def _history_model(path: str, with_history_signature: bool = True) -> str:
    """A SavedModel under the contract with the reference model's `recent_items` input (falling back
    to a stored history when no known item is sent) and, optionally, the proposed `history` signature."""
    import tensorflow as tf

    module = tf.Module()
    module.vectors = tf.Variable(VECTORS)
    module.items = tf.constant(CATALOGUE)
    module.index = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(module.items, tf.range(len(CATALOGUE), dtype=tf.int64)), default_value=-1)
    users = sorted(STORED)
    module.users = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(users), tf.range(len(users), dtype=tf.int64)),
        default_value=len(users))
    width = max(len(h) for h in STORED.values())
    module.stored = tf.constant([STORED[u] + [""] * (width - len(STORED[u])) for u in users] + [[""] * width])
    spec = {"user_id": tf.TensorSpec([None], tf.string, name="user_id"),
            "recent_items": tf.TensorSpec([None, None], tf.string, name="recent_items")}

    def stored(user_ids):
        return tf.gather(module.stored, module.users.lookup(user_ids))

    def scores(features):
        recent = module.index.lookup(features["recent_items"])
        has_recent = tf.reduce_any(recent >= 0, axis=1, keepdims=True)
        fallback = module.index.lookup(stored(features["user_id"]))
        history = tf.concat([tf.where(has_recent, recent, -1), tf.where(has_recent, tf.constant(-1, tf.int64), fallback)], 1)
        mask = tf.cast(history >= 0, tf.float32)
        pooled = tf.reduce_sum(tf.gather(module.vectors, tf.maximum(history, 0)) * mask[..., None], 1)
        users_ = pooled / tf.maximum(tf.reduce_sum(mask, 1, keepdims=True), 1.0)
        return tf.matmul(users_, module.vectors, transpose_b=True)

    def recommend(features):
        best = tf.math.top_k(scores(features), k=3)
        return {"item_ids": tf.gather(module.items, best.indices), "scores": best.values}

    signatures = {
        contract.SIGNATURE_RECOMMEND: tf.function(recommend, input_signature=[spec]),
        contract.SIGNATURE_SCORE_CATALOGUE: tf.function(lambda f: {"scores": scores(f)}, input_signature=[spec]),
        contract.SIGNATURE_CATALOGUE: tf.function(lambda: {"item_ids": module.items}, input_signature=[]),
    }
    if with_history_signature:
        signatures[explain.HISTORY_SIGNATURE] = tf.function(
            lambda f: {"item_ids": stored(f["user_id"])}, input_signature=[{"user_id": spec["user_id"]}])
    tf.saved_model.save(module, path, signatures=signatures)
    return path


@pytest.fixture(scope="module")
def hand_built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain")
    return (LoadedModel(_history_model(str(folder / "with")), "1"),
            LoadedModel(_history_model(str(folder / "without"), with_history_signature=False), "2"))


def _explained(model: LoadedModel, instances_: list[dict]):
    batch = instances.from_v1({"instances": instances_}, model.features, 64, 3, len(model.catalogue))
    answers = model.recommend(batch)
    return answers, model.explain(batch, answers)


def _score(model: LoadedModel, instance: dict, item: str) -> float:
    """`item`'s score for `instance`, through the model's serving path (the whole catalogue asked for)."""
    batch = instances.from_v1({"instances": [{**instance, "k": len(model.catalogue)}]}, model.features, 64, 3,
                              len(model.catalogue))
    (answer,) = model.recommend(batch)
    return answer.scores[answer.items.index(item)]


def _check_reasons_are_the_models(model: LoadedModel, instance: dict, history: list[str], answer, why) -> int:
    """Every reason: without its item the recommended item scores lower, by the stated drop."""
    checked = 0
    for item, score, reasons in zip(answer.items, answer.scores, why.reasons):
        drops = [reason.score_drop for reason in reasons]
        assert drops == sorted(drops, reverse=True) and all(d > 0 for d in drops)
        for reason in reasons:
            without = [h for h in history if h != reason.item]
            rescored = _score(model, {**instance, "recent_items": without}, item)
            assert rescored < score, (item, reason)
            assert score - rescored == pytest.approx(reason.score_drop, rel=1e-4, abs=1e-5)
            checked += 1
    return checked


def test_the_reasons_of_a_requests_history_are_the_items_whose_removal_lowers_the_score(hand_built):
    model, _ = hand_built
    instance = {"user_id": "u1", "recent_items": ["a", "c", "e", "zz-unknown"], "explain": True}
    (answer,), (why,) = _explained(model, [instance])
    assert why.history_source == explain.FROM_REQUEST and len(why.reasons) == len(answer.items)
    # The best item is pulled up by its own direction's history item: a for a and b, c for c and d.
    top = dict(zip(answer.items, (reasons[0].item for reasons in why.reasons if reasons)))
    assert all(top[item] == {"a": "a", "b": "a", "c": "c", "d": "c", "e": "e", "f": "e"}[item] for item in top)
    assert _check_reasons_are_the_models(model, instance, ["a", "c", "e"], answer, why) >= 3


def test_without_a_request_history_the_stored_one_is_read_through_the_history_signature(hand_built):
    model, without_signature = hand_built
    instance = {"user_id": "u1", "explain": True}
    (answer,), (why,) = _explained(model, [instance])
    assert why.history_source == explain.FROM_STORED and any(why.reasons)
    # The stored history scored through the request path gives the same scores: the reasons hold for it.
    assert _score(model, {"user_id": "u1", "recent_items": STORED["u1"]}, answer.items[0]) == pytest.approx(answer.scores[0])
    assert _check_reasons_are_the_models(model, {"user_id": "u1"}, STORED["u1"], answer, why) >= 3
    (_,), (unexplained,) = _explained(without_signature, [instance])
    assert unexplained.history_source == explain.NONE and not any(unexplained.reasons)
    assert "send 'recent_items'" in unexplained.note


def test_only_instances_that_ask_are_explained_and_one_item_is_not_enough(hand_built):
    model, _ = hand_built
    _, whys = _explained(model, [{"user_id": "u1", "recent_items": ["a", "c"]},
                                 {"user_id": "u1", "recent_items": ["a"], "explain": True},
                                 {"user_id": "u2", "explain": True}])
    assert whys[0] is None
    assert not any(whys[1].reasons) and "fewer than two" in whys[1].note
    assert whys[2].history_source == explain.FROM_STORED and not any(whys[2].reasons)


def test_explain_must_be_a_boolean(hand_built):
    from kserve.errors import InvalidInput

    model, _ = hand_built
    with pytest.raises(InvalidInput, match="'explain' must be true or false"):
        _explained(model, [{"user_id": "u1", "explain": "yes"}])


def test_leave_one_out_tries_the_most_recent_distinct_items_only():
    calls = []

    def score(rows, lists):
        calls.extend(lists)
        return np.array([[float(len(h)), 0.0] for h in lists])

    (reasons,) = explain.leave_one_out(score, [["x", "y", "x", "z"]], [[0]], ["p", "q"], max_history=2)
    assert calls[0] == ["x", "y", "x", "z"] and sorted(map(tuple, calls[1:])) == [("x", "y", "x"), ("y", "z")]
    assert [r.item for r in reasons[0]] == ["x", "z"]  # x appears twice: its removal drops two


def test_the_reference_models_reasons_are_its_own(trained, synthetic_data):
    """The reference two-tower model (trained by the session fixture): for a shopper's session, each
    named history item, removed, lowers the recommended item's score by the stated drop."""
    import pandas as pd

    from kubetfx.pipelines.recommender import data

    model = LoadedModel(trained[1]["serving_model_dir"], "1")
    row = pd.read_csv(synthetic_data / data.USERS_FILE, dtype={"user_id": str}).iloc[0]
    user = {"user_id": row["user_id"], "age": int(row["age"]), "gender": row["gender"], "occupation": row["occupation"]}
    session = model.catalogue[:: max(1, len(model.catalogue) // 6)][:6]
    instance = {**user, "recent_items": session, "k": 5}
    (answer,), (why,) = _explained(model, [{**instance, "explain": True}])
    assert why.history_source == explain.FROM_REQUEST and len(why.reasons) == 5
    assert all(reason.item in session for reasons in why.reasons for reason in reasons)
    assert _check_reasons_are_the_models(model, instance, session, answer, why) >= 5


def test_the_evaluation_reports_error_analysis_shows_the_models_reasons(tmp_path):
    """Evaluate's worst users carry the reasons of their first recommendations, from their train
    items; each named item, removed, lowers that recommendation's score (re-scored by the model)."""
    from test_evaluate_executor import _run, write_splits

    from kubetfx.pipelines.recommender.components.evaluate import scoring

    train = [("u1", "a"), ("u1", "c"), ("u1", "e"), ("u2", "d"), ("u2", "f"), ("u3", "b")]
    examples_uri = write_splits(tmp_path / "examples", train, [("u1", "b"), ("u2", "e"), ("u3", "a")],
                                {"u1": "F", "u2": "M", "u3": "F"})
    model_dir = _history_model(str(tmp_path / "model"), with_history_signature=False)
    _run(tmp_path, model_dir, examples_uri)
    import json

    result = json.loads((tmp_path / "evaluation" / names.EVAL_RESULT_FILE).read_text())
    worst = {row["user_id"]: row for row in result["worst_users"]}
    assert worst["u3"]["reasons"] is not None and not any(r["because"] for r in worst["u3"]["reasons"])  # one item
    scorer = scoring.CatalogueScorer(model_dir, __import__("pandas").DataFrame({"user_id": ["u1", "u2"]}))
    checked = 0
    for user, history in (("u1", ["a", "c", "e"]), ("u2", ["d", "f"])):
        row = worst[user]
        assert [r["item"] for r in row["reasons"]] == row["recommended"][:3]
        for recommended in row["reasons"]:
            column = CATALOGUE.index(recommended["item"])
            score = scorer.with_history([0 if user == "u1" else 1], [history])[0, column]
            for reason in recommended["because"]:
                without = [h for h in history if h != reason["item"]]
                rescored = scorer.with_history([0 if user == "u1" else 1], [without])[0, column]
                assert score - rescored == pytest.approx(reason["score_drop"], rel=1e-4) and rescored < score
                checked += 1
    assert checked >= 3
    page = (tmp_path / "report.html").read_text()
    assert "went on to choose" in page and "whose removal from the user" in page
    first = worst["u1"]["reasons"][0]
    assert f"{first['item']} ← {first['because'][0]['item']}" in page.replace("&lt;", "<")


def test_a_drop_within_float_noise_is_no_reason():
    def score(rows, lists):
        return np.array([[5.0 + (1e-7 if "x" in h else 0.0) + (0.5 if "y" in h else 0.0)] for h in lists])

    (reasons,) = explain.leave_one_out(score, [["x", "y"]], [[0]], ["p"])
    assert [r.item for r in reasons[0]] == ["y"]
