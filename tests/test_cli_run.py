"""`kubetfx run`: --param values are checked as `kubetfx submit` checks them, before anything runs."""
import pytest

from kubetfx import cli
from kubetfx.commands import run


@pytest.mark.parametrize("param, message", [
    ("eval_fraction=abc", "parameter eval_fraction is NUMBER_DOUBLE, and 'abc' is not one"),
    ("evalfraction=0.3", "the recommender pipeline has no parameter evalfraction; it has "),
    ("top_k=5", "parameter top_k is LIST, and '5' is not one"),
    ("canary_traffic_percent=101", "canary_traffic_percent is 101; it is KServe's canaryTrafficPercent"),
    ("max_duplicate_share=1.5", "max_duplicate_share is 1.5; it is a share of the interaction rows, a number from 0 to 1"),
])
def test_a_bad_param_is_one_line_before_anything_runs(tmp_path, capsys, param, message):
    code = cli.main(["run", "--interactions", str(tmp_path / "absent.csv"), "--run-dir", str(tmp_path / "run"),
                     "--param", param])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_params_are_typed_as_the_pipeline_declares():
    arguments = run.typed_arguments({"interactions_uri": "i.csv", "serving_root": "/s"},
                                    ["eval_fraction=0.3", "top_k=[5, 10]", "split_method=time",
                                     "max_duplicate_share=0.5"])
    assert arguments["eval_fraction"] == 0.3 and arguments["top_k"] == [5, 10] and arguments["split_method"] == "time"
    assert arguments["max_duplicate_share"] == 0.5
