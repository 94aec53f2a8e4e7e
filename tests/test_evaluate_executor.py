"""The evaluate executor: metrics against hand-computed values, and every gate able to fail."""
import json

import numpy as np
import pyarrow as pa
import pytest

from kubetfx.components.common import examples, fs, names, serving
from kubetfx.components.common.errors import ModelContractError
from kubetfx.pipelines.recommender.components.evaluate import executor, ranking

ITEMS = ["a", "b", "c", "d", "e"]


def save_table_model(path, users: list[str], items: list[str], scores: np.ndarray, default_row=None):
    """A real SavedModel following the model contract, scoring from a fixed user × item table."""
    import tensorflow as tf

    module = tf.Module()
    module.table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(users), tf.range(len(users), dtype=tf.int64)), default_value=-1)
    fallback = np.zeros((1, len(items)), np.float32) if default_row is None else default_row[None, :]
    module.scores = tf.Variable(np.vstack([scores, fallback]).astype(np.float32))
    module.items = tf.constant(items)
    signature = {"user_id": tf.TensorSpec([None], tf.string, name="user_id"),
                 "gender": tf.TensorSpec([None], tf.string, name="gender")}

    def rows(features):
        index = module.table.lookup(features["user_id"])
        return tf.gather(module.scores, tf.where(index < 0, tf.cast(len(users), tf.int64), index))

    module.score_catalogue = tf.function(lambda features: {"scores": rows(features)}, input_signature=[signature])
    module.catalogue = tf.function(lambda: {"item_ids": module.items}, input_signature=[])
    module.recommend = tf.function(lambda features: {"scores": rows(features)}, input_signature=[signature])
    tf.saved_model.save(module, str(path), signatures={
        "serving_default": module.recommend, "score_catalogue": module.score_catalogue, "catalogue": module.catalogue})
    return str(path)


def write_splits(root, train: list[tuple], evaluation: list[tuple], genders: dict):
    for split, pairs in ((names.TRAIN, train), (names.EVAL, evaluation)):
        examples.write_split(pa.table({
            "user_id": [u for u, _ in pairs], "item_id": [i for _, i in pairs],
            "gender": [genders[u] for u, _ in pairs],
            "genres": pa.array([["x", "y"] if i in ("a", "b") else ["z"] for _, i in pairs], pa.list_(pa.string())),
        }), str(root), split)
    return str(root)


@pytest.fixture()
def tiny(tmp_path):
    """Two users: u1 met a in train and chose b, c in eval; u2 met b and chose a."""
    genders = {"u1": "F", "u2": "M"}
    return write_splits(tmp_path / "examples", [("u1", "a"), ("u2", "b"), ("u2", "d")], [("u1", "b"), ("u1", "c"), ("u2", "a")], genders)


def _run(tmp_path, model_dir, examples_uri, serving_root="", run_tfma=False, **config):
    defaults = {"top_k": (1, 2), "main_metric": "ndcg@2", "min_group_size": 1, "tfma_sample_size": 0}
    config = executor.EvaluateConfig(run_tfma=run_tfma, **{**defaults, **config})
    return executor.run(model_dir, examples_uri, str(tmp_path / "evaluation"), str(tmp_path / "blessing"),
                        str(tmp_path / "report.html"), serving_root=serving_root, config=config)


def test_ranking_metrics_match_hand_computed_values(tmp_path, tiny):
    # u1 (a masked): ranks b > d > c > e; u2 (b, d masked): ranks c > a > e.
    scores = np.array([[9, 5, 3, 4, 1], [2, 9, 4, 8, 1]], np.float32)
    model = save_table_model(tmp_path / "model", ["u1", "u2"], ITEMS, scores)
    result = _run(tmp_path, model, tiny)
    metrics = result["metrics"]
    # u1: top1 [b] hit; top2 [b, d] 1 hit of 2 relevant.  u2: top1 [c] miss; top2 [c, a] hit at rank 2.
    assert metrics["precision@1"] == pytest.approx((1 + 0) / 2)
    assert metrics["recall@2"] == pytest.approx((1 / 2 + 1 / 1) / 2)
    ndcg_u1 = 1.0 / (1 + 1 / np.log2(3))
    ndcg_u2 = (1 / np.log2(3)) / 1.0
    assert metrics["ndcg@2"] == pytest.approx((ndcg_u1 + ndcg_u2) / 2)
    assert metrics["map@2"] == pytest.approx(((1 / 1) / 2 + (1 / 2) / 1) / 2)
    assert metrics["hit_rate@2"] == pytest.approx(1.0) and metrics["hit_rate@1"] == pytest.approx(0.5)
    assert metrics["coverage@2"] == pytest.approx(len({"b", "d", "c", "a"}) / 5)


def test_popularity_baseline_ranks_by_train_counts_with_seen_items_removed():
    data = ranking.Interactions(users=np.array(["u"]), train_users=np.array([0]), train_items=np.array(["b"]),
                                eval_users=np.array([0]), eval_items=np.array(["c"]),
                                item_train_counts={"a": 1, "b": 5, "c": 3}, train_user_count=4)
    catalogue = np.array(["a", "b", "c"], dtype=object)
    result = ranking.rank(ranking.popularity_scorer(catalogue, data), catalogue, data, (1,))
    assert list(catalogue[result.top_items[0]]) == ["c"]  # b is seen, c (3) beats a (1)
    assert result.summary["recall@1"] == 1.0


def test_popularity_baseline_masks_each_users_own_items():
    data = ranking.Interactions(users=np.array(["u", "v"]), train_users=np.array([0, 1]), train_items=np.array(["b", "c"]),
                                eval_users=np.array([0, 1]), eval_items=np.array(["a", "a"]),
                                item_train_counts={"a": 1, "b": 5, "c": 3}, train_user_count=2)
    catalogue = np.array(["a", "b", "c"], dtype=object)
    result = ranking.rank(ranking.popularity_scorer(catalogue, data), catalogue, data, (2,))
    assert [list(catalogue[row]) for row in result.top_items] == [["c", "a"], ["b", "a"]]
    assert result.summary["coverage@2"] == 1.0


def test_a_model_worse_than_popularity_is_not_blessed(tmp_path, tiny):
    # Scores that put every relevant item last.
    scores = np.array([[9, 0, 0, 9, 9], [0, 9, 9, 9, 9]], np.float32)
    model = save_table_model(tmp_path / "model", ["u1", "u2"], ITEMS, scores)
    result = _run(tmp_path, model, tiny)
    blessing = json.loads((tmp_path / "blessing" / names.BLESSING_FILE).read_text())
    assert result[names.META_BLESSED] is False and blessing["blessed"] is False
    baseline_gate = next(g for g in blessing["gates"] if g["name"] == "baseline")
    assert not baseline_gate["passed"] and "does not beat most-popular" in baseline_gate["reason"]


def test_a_candidate_worse_than_the_champion_is_not_blessed(tmp_path, tiny):
    good = np.array([[0, 9, 8, 1, 1], [9, 0, 1, 1, 1]], np.float32)
    weaker = np.array([[0, 9, 1, 8, 1], [1, 0, 9, 1, 8]], np.float32)
    champion = save_table_model(tmp_path / "champion", ["u1", "u2"], ITEMS, good)
    candidate = save_table_model(tmp_path / "candidate", ["u1", "u2"], ITEMS, weaker)
    root = str(tmp_path / "serving")
    fs.write_json(serving.pointer_path(root), {"version": "1", "model_dir": champion})
    result = _run(tmp_path, candidate, tiny, serving_root=root)
    gate = next(g for g in result["gates"] if g["name"] == "champion")
    assert not gate["passed"] and "falls behind the blessed model" in gate["reason"]
    assert result["metrics"]["champion_ndcg@2"] > result["metrics"]["ndcg@2"]
    assert result[names.META_BLESSED] is False
    blessing = fs.read_json(str(tmp_path / "blessing" / names.BLESSING_FILE))
    assert blessing[names.META_JUDGED_AGAINST] == "1"  # push refuses it if LATEST moved since


def test_no_champion_passes_with_a_reason(tmp_path, tiny):
    model = save_table_model(tmp_path / "model", ["u1", "u2"], ITEMS, np.array([[0, 9, 8, 1, 1], [9, 0, 1, 1, 1]], np.float32))
    result = _run(tmp_path, model, tiny, serving_root=str(tmp_path / "empty-root"))
    gate = next(g for g in result["gates"] if g["name"] == "champion")
    assert gate["passed"] and "no blessed model yet" in gate["reason"]
    assert result[names.META_BLESSED] is True
    blessing = fs.read_json(str(tmp_path / "blessing" / names.BLESSING_FILE))
    assert blessing[names.META_JUDGED_AGAINST] is None


@pytest.fixture()
def unfair(tmp_path):
    """40 users; the model serves women perfectly and men with their chosen item ranked last."""
    rng = np.random.default_rng(0)
    users = [f"u{i}" for i in range(40)]
    genders = {u: ("F" if i % 2 else "M") for i, u in enumerate(users)}
    items = [f"i{j}" for j in range(20)]
    chosen = {u: items[rng.integers(0, 20)] for u in users}
    train = [(u, items[(items.index(chosen[u]) + 1) % 20]) for u in users]
    scores = np.zeros((40, 20), np.float32)
    for row, user in enumerate(users):
        scores[row] = rng.random(20)
        scores[row, items.index(chosen[user])] = 10.0 if genders[user] == "F" else -10.0
    root = write_splits(tmp_path / "examples", train, [(u, chosen[u]) for u in users], genders)
    return save_table_model(tmp_path / "model", users, items, scores), root


def test_an_unfair_model_fails_the_fairness_gate_when_one_is_set(tmp_path, unfair):
    model, root = unfair
    reported = _run(tmp_path, model, root)
    assert next(g for g in reported["gates"] if g["name"] == "fairness")["passed"], "disabled by default"
    judged = _run(tmp_path, model, root, min_fairness_ratio=0.8)
    gate = next(g for g in judged["gates"] if g["name"] == "fairness")
    assert not gate["passed"] and "gender: 'M' gets 0.00 of 'F'" in gate["reason"]
    assert gate["details"]["item_popularity_decile (recall@2)"]["reported_only"], "item groups are not judged"
    assert judged[names.META_BLESSED] is False


def test_threshold_gate(tmp_path, tiny):
    model = save_table_model(tmp_path / "model", ["u1", "u2"], ITEMS, np.array([[0, 9, 8, 1, 1], [9, 0, 1, 1, 1]], np.float32))
    passing = _run(tmp_path, model, tiny, thresholds={"recall@2": 0.5})
    failing = _run(tmp_path, model, tiny, thresholds={"recall@2": 1.01, "precision@1": 0.1})
    assert passing[names.META_BLESSED] is True
    gate = next(g for g in failing["gates"] if g["name"] == "thresholds")
    assert not gate["passed"] and "recall@2 1.0000 < 1.01" in gate["reason"] and "precision@1" not in gate["reason"]


def test_tfma_results_and_slices_are_written(tmp_path, unfair):
    model, root = unfair
    _run(tmp_path, model, root, run_tfma=True)
    evaluation = json.loads((tmp_path / "evaluation" / names.EVAL_RESULT_FILE).read_text())
    assert evaluation["tfma"][""]["example_count"] > 40
    assert {"gender=F", "gender=M"} <= set(evaluation["tfma"])
    assert evaluation["tfma"]["gender=F"]["auc"] > evaluation["tfma"]["gender=M"]["auc"]
    assert "genres=z" in evaluation["tfma"] and any(k.startswith("item_popularity_decile=") for k in evaluation["tfma"])
    assert evaluation["tfma_run"]["examples"] == evaluation["tfma"][""]["example_count"]
    assert fs.glob(str(tmp_path / "evaluation" / "tfma" / "*")), "TFMA's own output is kept"
    assert evaluation["slices"]["gender"]["F"]["value"] == pytest.approx(1.0)
    assert evaluation["slices"]["gender"]["M"]["value"] == pytest.approx(0.0)
    report = (tmp_path / "report.html").read_text()
    assert "TFMA metrics per slice" in report and "gender=M" in report
    assert "users served worst" in report and "<svg" in report


def test_a_model_without_score_catalogue_is_named(tmp_path, tiny):
    import tensorflow as tf

    module = tf.Module()
    module.f = tf.function(lambda x: {"y": x}, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"serving_default": module.f})
    with pytest.raises(ModelContractError, match="lacks the signature.*score_catalogue"):
        _run(tmp_path, str(tmp_path / "model"), tiny)


def test_repeated_eval_choices_count_once_and_k_may_exceed_what_is_left(tmp_path):
    # As `tiny`, but u1 chose b twice in eval; K=10 is more than the 4 (u1) or 3 (u2) unseen items.
    root = write_splits(tmp_path / "examples", [("u1", "a"), ("u2", "b"), ("u2", "d")],
                        [("u1", "b"), ("u1", "b"), ("u1", "c"), ("u2", "a")], {"u1": "F", "u2": "M"})
    scores = np.array([[9, 5, 3, 4, 1], [2, 9, 4, 8, 1]], np.float32)
    model = save_table_model(tmp_path / "model", ["u1", "u2"], ITEMS, scores)
    metrics = _run(tmp_path, model, root, top_k=(2, 10))["metrics"]
    assert metrics["recall@2"] == pytest.approx((1 / 2 + 1 / 1) / 2)  # u1 has 2 relevant items, not 3
    assert metrics["recall@10"] == pytest.approx(1.0)
    assert metrics["precision@10"] == pytest.approx((2 / 10 + 1 / 10) / 2)
    # u1 ranks b, d, c, e (hits at 1 and 3); u2 ranks c, a, e (hit at 2).
    ndcg_u1 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    assert metrics["ndcg@10"] == pytest.approx((ndcg_u1 + 1 / np.log2(3)) / 2)
    assert metrics["coverage@10"] == pytest.approx(1.0)  # empty slots are not an item


def test_an_unreadable_champion_fails_the_champion_gate(tmp_path, tiny):
    model = save_table_model(tmp_path / "model", ["u1", "u2"], ITEMS, np.array([[0, 9, 8, 1, 1], [9, 0, 1, 1, 1]], np.float32))
    root = str(tmp_path / "serving")
    fs.write_json(serving.pointer_path(root), {"version": "gone"})  # LATEST names a version that is not there
    result = _run(tmp_path, model, tiny, serving_root=root)
    gate = next(g for g in result["gates"] if g["name"] == "champion")
    assert not gate["passed"] and "gone" in gate["reason"] and "Repair or remove the pointer" in gate["reason"]
    assert result[names.META_BLESSED] is False


def test_bad_inputs_are_named(tmp_path, tiny):
    from kubetfx.components.common.errors import InputDataError, KubetfxError

    model = save_table_model(tmp_path / "model", ["u1", "u2"], ITEMS, np.zeros((2, 5), np.float32))
    with pytest.raises(KubetfxError, match="main metric 'auc'"):
        _run(tmp_path, model, tiny, main_metric="auc")
    empty = tmp_path / "empty"
    examples.write_split(pa.table({"user_id": ["u1"], "item_id": ["a"]}), str(empty), names.TRAIN)
    examples.write_split(pa.table({"user_id": pa.array([], pa.string()), "item_id": pa.array([], pa.string())}),
                         str(empty), names.EVAL)
    with pytest.raises(InputDataError, match="eval split .* is empty"):
        _run(tmp_path, model, str(empty))
    wrong = save_table_model(tmp_path / "wrong", ["u1", "u2"], ITEMS[:4], np.zeros((2, 5), np.float32), np.zeros(5, np.float32))
    with pytest.raises(ModelContractError, match=r"expected 'scores' of shape \[2, 4\]"):
        _run(tmp_path, wrong, tiny)


def test_the_popularity_fast_path_matches_scoring_the_whole_catalogue():
    rng = np.random.default_rng(1)
    users, items = 300, 40
    catalogue = np.array([f"i{j:02d}" for j in range(items)], dtype=object)
    train_users, train_items = rng.integers(0, users, 3000), catalogue[rng.integers(0, items, 3000)]
    counts = dict(zip(*np.unique(train_items, return_counts=True)))
    counts.update({"i07": counts["i08"]})  # a tie, broken by item id
    data = ranking.Interactions(users=np.arange(users).astype(str), train_users=train_users, train_items=train_items,
                                eval_users=np.repeat(np.arange(users), 2), eval_items=catalogue[rng.integers(0, items, 2 * users)],
                                item_train_counts=counts, train_user_count=users)
    slow = ranking.rank(ranking.popularity_scorer(catalogue, data), catalogue, data, (5, 40))
    fast = ranking.rank_by_popularity(catalogue, data, (5, 40))
    np.testing.assert_array_equal(fast.top_items, slow.top_items)
    assert fast.summary == slow.summary and (fast.top_items == -1).any()


def test_a_tampered_champion_fails_the_champion_gate_naming_the_file(tmp_path, tiny):
    from kubetfx.components.common import integrity

    model = save_table_model(tmp_path / "model", ["u1", "u2"], ITEMS, np.array([[0, 9, 8, 1, 1], [9, 0, 1, 1, 1]], np.float32))
    root = tmp_path / "serving"
    champion = save_table_model(root / "1", ["u1", "u2"], ITEMS, np.array([[0, 9, 8, 1, 1], [9, 0, 1, 1, 1]], np.float32))
    integrity.write_manifest(str(champion), {"version": "1"})
    fs.write_json(serving.pointer_path(str(root)), {"version": "1", "model_dir": "1"})
    untouched = _run(tmp_path / "first", model, tiny, serving_root=str(root))
    assert next(g for g in untouched["gates"] if g["name"] == "champion")["passed"]
    with open(root / "1" / "saved_model.pb", "ab") as f:  # one byte appended after push
        f.write(b"\0")
    result = _run(tmp_path / "second", model, tiny, serving_root=str(root))
    gate = next(g for g in result["gates"] if g["name"] == "champion")
    assert not gate["passed"] and "IntegrityError" in gate["reason"] and "'saved_model.pb' changed" in gate["reason"]
    assert result[names.META_BLESSED] is False


def _top_k_by_full_sort(scores: np.ndarray, k: int) -> np.ndarray:
    """The definition `ranking._top_k` keeps: best first, ties by column, NaN and -inf never recommended."""
    top = np.full((len(scores), k), -1)
    for row, values in enumerate(np.where(np.isnan(scores), -np.inf, scores)):
        order = np.lexsort((np.arange(len(values)), -values))[:k]
        order = order[values[order] > -np.inf]
        top[row, :len(order)] = order
    return top


@pytest.mark.parametrize("ties", [False, True])
def test_the_two_pass_top_k_is_exact(ties):
    rng = np.random.default_rng(3)
    width, k = 64 * 50 + 37, 10  # 50 blocks (the two-pass path), 37 columns left over
    scores = rng.standard_normal((200, width)).astype(np.float32)
    if ties:
        scores = np.round(scores, 1)  # ties inside and at the k-th value
    scores[rng.random(scores.shape) < 0.3] = -np.inf  # removed train items
    scores[5, :] = -np.inf  # nothing left to recommend
    scores[6, 100] = np.nan
    scores[7, :width - 3] = -np.inf  # fewer than k items left, all in the leftover columns
    scores[8, width - 1] = 100.0  # the best item in the leftover columns
    assert ranking.TOP_K_BLOCK * 4 * k <= width
    np.testing.assert_array_equal(ranking._top_k(scores.copy(), k), _top_k_by_full_sort(scores, k))
