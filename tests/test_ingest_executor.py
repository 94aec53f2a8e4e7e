"""The ingest executor on tiny tables the tests write."""
import pandas as pd
import pytest

from kubetfx.components.common import examples, names
from kubetfx.components.common.errors import InputDataError
from kubetfx.components.ingest import executor


def _write(tmp_path, name, frame):
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return str(path)


def _interactions(users=4, per_user=8):
    rows = [(str(u), str(i), 1 + (u + i) % 5, 1000 * u + i) for u in range(users) for i in range(per_user)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def _split_pairs(uri, split):
    table = examples.read_split(uri, split)
    users = [v.decode() for v in examples.first_values(table, names.USER_ID).to_pylist()]
    items = [v.decode() for v in examples.first_values(table, names.ITEM_ID).to_pylist()]
    return set(zip(users, items))


def _run(tmp_path, interactions, users="", items="", out="out", **kwargs):
    return executor.run(interactions, users, items, str(tmp_path / out), str(tmp_path / f"{out}.md"), **kwargs)


def test_per_user_split_keeps_every_row_and_a_quarter_of_each_user_in_eval(tmp_path):
    figures = _run(tmp_path, _write(tmp_path, "i.csv", _interactions()))
    assert figures[names.META_ROWS] == {"train": 24, "eval": 8}
    eval_pairs = _split_pairs(str(tmp_path / "out"), names.EVAL)
    per_user = pd.Series([u for u, _ in eval_pairs]).value_counts()
    assert per_user.to_dict() == {"0": 2, "1": 2, "2": 2, "3": 2}
    assert not eval_pairs & _split_pairs(str(tmp_path / "out"), names.TRAIN)


def test_split_is_deterministic_and_independent_of_row_order(tmp_path):
    frame = _interactions()
    _run(tmp_path, _write(tmp_path, "a.csv", frame), out="a")
    _run(tmp_path, _write(tmp_path, "b.csv", frame.sample(frac=1.0, random_state=3)), out="b")
    assert _split_pairs(str(tmp_path / "a"), names.EVAL) == _split_pairs(str(tmp_path / "b"), names.EVAL)


def test_another_seed_gives_another_split(tmp_path):
    path = _write(tmp_path, "i.csv", _interactions())
    _run(tmp_path, path, out="a", seed=1)
    _run(tmp_path, path, out="b", seed=2)
    assert _split_pairs(str(tmp_path / "a"), names.EVAL) != _split_pairs(str(tmp_path / "b"), names.EVAL)


def test_time_split_holds_out_each_users_latest_interactions(tmp_path):
    _run(tmp_path, _write(tmp_path, "i.csv", _interactions()), split_method="time")
    assert _split_pairs(str(tmp_path / "out"), names.EVAL) == {(str(u), str(i)) for u in range(4) for i in (6, 7)}


def test_a_user_with_one_interaction_stays_in_train(tmp_path):
    frame = pd.concat([_interactions(), pd.DataFrame([["lonely", "x", 3, 5]], columns=["user_id", "item_id", "rating", "timestamp"])])
    _run(tmp_path, _write(tmp_path, "i.csv", frame))
    assert ("lonely", "x") in _split_pairs(str(tmp_path / "out"), names.TRAIN)


def test_user_and_item_features_are_joined_and_lists_stay_lists(tmp_path):
    users = pd.DataFrame({"user_id": ["0", "1", "2", "3"], "age": [20, 30, 40, 50], "gender": ["F", "M", "F", "M"]})
    items = pd.DataFrame({"item_id": [str(i) for i in range(8)], "genres": ["Drama|Comedy"] * 4 + ["Action"] * 4,
                          "release_year": [1990, None, 1995, 1996, 1997, 1998, 1999, 2000]})
    figures = _run(tmp_path, _write(tmp_path, "i.parquet", _interactions()), _write(tmp_path, "u.csv", users),
                   _write(tmp_path, "items.csv", items))
    assert figures["interactions_without_user_features"] == 0
    table = examples.read_split(str(tmp_path / "out"), names.TRAIN).to_pandas()
    assert set(table.columns) >= {"age", "gender", "genres", "release_year"}
    user_one = table[table.user_id.map(lambda v: v[0]) == b"1"]
    assert {tuple(v) for v in user_one.age} == {(30,)}
    drama_items = table[table.item_id.map(lambda v: int(v[0]) < 4)]
    assert {tuple(v) for v in drama_items.genres} == {(b"Drama", b"Comedy")}
    assert table.release_year.map(lambda v: v is None or len(v) == 0).sum() > 0  # missing stays missing
    assert pd.api.types.is_integer_dtype(pd.Series([v[0] for v in table.release_year if v is not None and len(v)]))


def test_report_shows_rows_per_split(tmp_path):
    _run(tmp_path, _write(tmp_path, "i.csv", _interactions()))
    report = (tmp_path / "out.md").read_text()
    assert "| train | 24 |" in report and "| eval | 8 |" in report


@pytest.mark.parametrize("frame, expected", [
    (pd.DataFrame({"user_id": ["1"], "item": ["2"]}), "no column 'item_id'"),
    (pd.DataFrame({"user_id": [], "item_id": []}), "has a header but no rows"),
    (pd.DataFrame({"user_id": ["1", "2"], "item_id": ["1", "2"], "rating": ["4", "abc"]}), "row 2, column 'rating': expected a number, got 'abc'"),
    (pd.DataFrame({"user_id": ["1", None], "item_id": ["1", "2"]}), "row 2: column 'user_id' is empty"),
])
def test_bad_interactions_name_the_file_and_the_problem(tmp_path, frame, expected):
    path = _write(tmp_path, "bad.csv", frame)
    with pytest.raises(InputDataError, match="interactions file '.*bad.csv'") as error:
        _run(tmp_path, path)
    assert expected in str(error.value)


def test_empty_file_and_missing_path_are_clear(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputDataError, match="empty.csv' is empty"):
        _run(tmp_path, str(tmp_path / "empty.csv"))
    with pytest.raises(InputDataError, match="nope.csv' does not exist"):
        _run(tmp_path, str(tmp_path / "nope.csv"))


def test_duplicate_user_ids_are_refused(tmp_path):
    users = pd.DataFrame({"user_id": ["0", "1", "1"], "age": [1, 2, 3]})
    with pytest.raises(InputDataError, match=r"users file .* row 3: user_id '1' appears twice"):
        _run(tmp_path, _write(tmp_path, "i.csv", _interactions()), _write(tmp_path, "u.csv", users))


def test_unknown_split_method_is_refused(tmp_path):
    with pytest.raises(InputDataError, match="split method 'weekly'"):
        _run(tmp_path, _write(tmp_path, "i.csv", _interactions()), split_method="weekly")
