"""The ingest executor on tiny tables the tests write."""
import pathlib

import pandas as pd
import pytest

from kubetfx.components.common import examples
from kubetfx.components.common.errors import InputDataError
from kubetfx.pipelines.recommender.components.ingest import executor, limits
from kubetfx.pipelines.recommender import names


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


def test_a_list_typed_id_column_is_refused_naming_the_column_and_its_type(tmp_path):
    frame = _interactions()
    frame["item_id"] = frame["item_id"].map(lambda item: [f"p{item}"])
    with pytest.raises(InputDataError, match=r"column 'item_id' has Parquet type list<.*string>; ids must be strings or integers"):
        _run(tmp_path, _write(tmp_path, "i.parquet", frame))
    frame["item_id"] = 1.5
    with pytest.raises(InputDataError, match="column 'item_id' has Parquet type double"):
        _run(tmp_path, _write(tmp_path, "f.parquet", frame))


def test_integer_parquet_ids_are_read_as_strings(tmp_path):
    frame = _interactions()
    frame["user_id"] = frame["user_id"].astype(int)
    _run(tmp_path, _write(tmp_path, "i.parquet", frame))
    assert ("0", "0") in _split_pairs(str(tmp_path / "out"), names.TRAIN) | _split_pairs(str(tmp_path / "out"), names.EVAL)


def test_na_null_and_none_are_legitimate_ids(tmp_path):
    frame = _interactions()
    frame.loc[frame.user_id == "0", "user_id"] = "NA"
    frame.loc[frame.user_id == "1", "user_id"] = "null"
    frame.loc[frame.item_id == "0", "item_id"] = "None"
    _run(tmp_path, _write(tmp_path, "i.csv", frame))
    pairs = _split_pairs(str(tmp_path / "out"), names.TRAIN) | _split_pairs(str(tmp_path / "out"), names.EVAL)
    assert {"NA", "null"} <= {user for user, _ in pairs} and "None" in {item for _, item in pairs}


def test_a_non_utf8_byte_is_reported_by_line_and_row(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"user_id,item_id\n1,a\n2,b\n3,caf\xe9\n")
    with pytest.raises(InputDataError, match=r"latin1.csv' line 4 \(data row 3\): byte b'\\xe9' is not UTF-8"):
        _run(tmp_path, str(path))


@pytest.mark.parametrize("column, length, limit", [("item_id", 300, names.MAX_ID_LENGTH),
                                                    ("colour", 5000, names.MAX_TEXT_LENGTH)])
def test_oversize_ids_and_text_values_are_refused_by_row(tmp_path, column, length, limit):
    frame = _interactions()
    frame["colour"] = "red"
    frame[column] = frame[column].astype(object)
    frame.loc[5, column] = "x" * length
    with pytest.raises(InputDataError, match=f"row 6, column '{column}': a value of {length:,} characters; "
                                             f".* at most {limit:,}"):
        _run(tmp_path, _write(tmp_path, "i.csv", frame))


def test_a_word_in_a_numeric_feature_column_is_refused_naming_its_rows(tmp_path):
    ages = [20 + u for u in range(40)]
    users = pd.DataFrame({"user_id": [str(u) for u in range(40)], "age": ages,
                          "zip_code": [f"{10000 + u}" for u in range(38)] + ["T8H1N", "V3N4P"]})
    users["age"] = users["age"].astype(object)
    users.loc[5, "age"] = "forty"
    interactions = _interactions(users=40, per_user=2)
    with pytest.raises(InputDataError, match=r"users file .* column 'age' holds numbers except in 1 row\(s\): "
                                             r"row 6 \('forty'\)"):
        _run(tmp_path, _write(tmp_path, "i.csv", interactions), _write(tmp_path, "u.csv", users))
    users.loc[5, "age"] = 25  # zip codes mixing letters and digits are text, and pass
    _run(tmp_path, _write(tmp_path, "i.csv", interactions), _write(tmp_path, "u.csv", users))


def test_data_problems_are_counted_in_the_figures_and_the_report(tmp_path):
    frame = pd.concat([_interactions(), _interactions().iloc[:2]], ignore_index=True)  # 2 duplicated rows
    frame["rating"] = frame["rating"].astype(float)
    users = pd.DataFrame({"user_id": ["0", "1", "2"], "age": [20, 30, 40]})  # user 3 missing: 8 of 34 rows
    figures = _run(tmp_path, _write(tmp_path, "i.csv", frame), _write(tmp_path, "u.csv", users),
                   limits=executor.QualityLimits(max_unknown_user_share=0.5))
    quality = figures["quality"]
    assert quality["duplicate_rows"]["rows"] == 2 and quality["duplicate_rows"]["first_rows"] == [33, 34]
    assert quality["unknown_users"]["rows"] == 8 and not quality["unknown_users"]["exceeded"]
    assert "| rows repeat an earlier row in every column | 2 |" in (tmp_path / "out.md").read_text()


@pytest.mark.parametrize("mutate, message", [
    (lambda f: pd.concat([f, f], ignore_index=True), r"32 rows repeat an earlier row in every column \(50.0%, limit 10.0%"),
    (lambda f: f.assign(rating=f["rating"].astype(float).where(f.index != 3, float("inf"))),
     r"1 rows hold inf or -inf in rating \(3.1%, limit 0.0%, parameter max_non_finite_share; first rows 4\)"),
])
def test_data_problems_beyond_their_limit_fail_the_run(tmp_path, mutate, message):
    with pytest.raises(InputDataError, match=message):
        _run(tmp_path, _write(tmp_path, "i.csv", mutate(_interactions())))


def test_interactions_of_unknown_users_beyond_the_limit_fail_the_run(tmp_path):
    users = pd.DataFrame({"user_id": ["0", "1", "2"], "age": [20, 30, 40]})
    with pytest.raises(InputDataError, match=r"8 interactions are of users missing from the users table \(25.0%"):
        _run(tmp_path, _write(tmp_path, "i.csv", _interactions()), _write(tmp_path, "u.csv", users))


@pytest.mark.parametrize("name, value", [("max_duplicate_share", -0.1), ("max_unknown_user_share", 1.5),
                                         ("max_unknown_item_share", float("nan")), ("max_non_finite_share", True)])
def test_a_limit_outside_0_to_1_is_refused_naming_it(name, value):
    with pytest.raises(ValueError, match=f"^{name} is .*; it is a share of the interaction rows, a number from 0 to 1"):
        limits.QualityLimits(**{name: value})


def test_the_limits_are_typed_parameters_of_the_pipeline_that_reach_ingest():
    from google.protobuf import json_format

    from kubetfx.config import Images
    from kubetfx.pipelines.recommender import pipeline

    spec = json_format.MessageToDict(pipeline.create_pipeline(Images(repo="local")).pipeline_spec)
    declared = spec["root"]["inputDefinitions"]["parameters"]
    ingest_inputs = spec["root"]["dag"]["tasks"][names.TASK_INGEST]["inputs"]["parameters"]
    for name in limits.PARAMETERS:
        assert declared[name]["parameterType"] == "NUMBER_DOUBLE"
        assert declared[name].get("defaultValue", 0.0) == getattr(limits.DEFAULTS, name)
        assert ingest_inputs[name] == {"componentInputParameter": name}


def test_a_limit_given_to_the_pipeline_decides_the_run(tmp_path):
    """Run by kfp.local as a compiled spec runs: half the rows duplicated fails at the default limit
    (the executor tests above), and passes at max_duplicate_share 0.6, which the report shows."""
    import dataclasses

    from kfp import dsl

    from kubetfx.pipelines import local_runner
    from kubetfx.pipelines.recommender.components.ingest import component as ingest

    step = ingest.build("local")

    @dsl.pipeline(name="ingest-only")
    def ingest_only(interactions_uri: str, max_duplicate_share: float):
        step(interactions_uri=interactions_uri, users_uri="", items_uri="", split_method="random", eval_fraction=0.25,
             seed=1, **{**dataclasses.asdict(limits.DEFAULTS), "max_duplicate_share": max_duplicate_share})

    doubled = _write(tmp_path, "i.csv", pd.concat([_interactions(), _interactions()], ignore_index=True))
    summary = local_runner.run(ingest_only, {"interactions_uri": doubled, "max_duplicate_share": 0.6},
                               str(tmp_path / "run"))
    assert summary["status"] == "succeeded", summary["error"]
    assert summary["data_quality"]["duplicate_rows"] == 32
    report = pathlib.Path(summary["reports"][names.TASK_INGEST]).read_text()
    assert "| rows repeat an earlier row in every column | 32 | 50.00% | 60% (`max_duplicate_share`) |" in report


def test_a_large_split_is_written_as_several_files_holding_every_row(tmp_path, monkeypatch):
    monkeypatch.setattr(examples, "ROWS_PER_SHARD", 10)  # 24 train rows: three files, 8 eval rows: one
    _run(tmp_path, _write(tmp_path, "i.csv", _interactions()))
    uri = str(tmp_path / "out")
    files = {split: sorted(pathlib.Path(examples.split_uri(uri, split)).iterdir()) for split in names.SPLITS}
    assert [f.name for f in files[names.TRAIN]] == [f"data_tfrecord-0000{k}-of-00003.gz" for k in range(3)]
    assert len(files[names.EVAL]) == 1
    assert len(_split_pairs(uri, names.TRAIN)) == 24 and len(_split_pairs(uri, names.EVAL)) == 8
