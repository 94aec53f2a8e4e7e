"""A plain request to the reference model (user features only) can be explained: the model exports
its stored histories through the `history` signature, and the reasons are items of the user's train
history whose removal lowers the recommended item's score by the stated drop."""
import pandas as pd
import pytest

from kubetfx.components.common import examples
from kubetfx.pipelines.recommender import data, explain, module, names
from kubetfx.pipelines.recommender.serving.loaded import INTEGER, ITEMS, NUMBER, LoadedModel

_CASTS = {INTEGER: int, NUMBER: float}


def _plain_instance(model: LoadedModel, users: pd.DataFrame, user_id: str) -> dict:
    """The user's features as a request sends them, from the users table; no recent items."""
    row = users.set_index("user_id").loc[user_id]
    return {"user_id": user_id, **{name: _CASTS.get(kind, str)(row[name]) for name, kind in model.features.items()
                                   if kind != ITEMS and name != "user_id"}}


def _train_histories(ingested) -> dict[str, set[str]]:
    table = examples.read_split(str(ingested), names.TRAIN)
    users = [v.decode() for v in examples.first_values(table, names.USER_ID).to_pylist()]
    items = [v.decode() for v in examples.first_values(table, names.ITEM_ID).to_pylist()]
    histories: dict[str, set[str]] = {}
    for user, item in zip(users, items):
        histories.setdefault(user, set()).add(item)
    return histories


def test_a_plain_request_is_explained_by_the_users_stored_history(trained, ingested, synthetic_data):
    from test_explanations import _check_reasons_are_the_models, _explained, _score

    import tensorflow as tf

    model = LoadedModel(trained[1]["serving_model_dir"], "1")
    users = pd.read_csv(synthetic_data / data.USERS_FILE, dtype={"user_id": str})
    histories = _train_histories(ingested)
    user_id = sorted(histories)[0]
    stored = tf.saved_model.load(trained[1]["serving_model_dir"]).signatures[module.HISTORY_SIGNATURE]
    history = [v.decode() for v in stored(user_id=tf.constant([user_id]))["item_ids"].numpy()[0] if v]
    assert set(history) == histories[user_id] and len(history) >= 2, "the stored history is the user's train items"

    instance = _plain_instance(model, users, user_id)
    (answer,), (why,) = _explained(model, [{**instance, "k": 5, "explain": True}])
    assert why.history_source == explain.FROM_STORED and len(why.reasons) == 5
    named = [reason.item for reasons in why.reasons for reason in reasons]
    assert named and set(named) <= histories[user_id]
    # Sent as the request's own list, the stored history scores as the plain request does, so each
    # reason can be checked by removing its item from that list.
    rescored = _score(model, {**instance, "recent_items": history}, answer.items[0])
    assert rescored == pytest.approx(answer.scores[0], rel=1e-5, abs=1e-5)
    assert _check_reasons_are_the_models(model, instance, history, answer, why) >= 5


def test_an_unknown_user_has_no_stored_history_to_explain(trained):
    import tensorflow as tf

    stored = tf.saved_model.load(trained[1]["serving_model_dir"]).signatures[module.HISTORY_SIGNATURE]
    assert not any(stored(user_id=tf.constant(["no-such-user"]))["item_ids"].numpy()[0])


def test_the_module_exports_the_signature_serving_reads_histories_from():
    assert module.HISTORY_SIGNATURE == explain.HISTORY_SIGNATURE
