"""The pure parts of `kubetfx submit`: parameters typed as the spec declares, names, schedules, following a run."""
import itertools

import pytest

from kubetfx import submit
from kubetfx.components.common.errors import SubmitError
from kubetfx.version import __version__

SPEC = submit.Spec(path="spec.yaml", name="p", description="", digest="0123456789abcdef" * 4, parameters={
    "data": {"parameterType": "STRING", "description": "the data"},
    "steps": {"parameterType": "NUMBER_INTEGER", "isOptional": True},
    "rate": {"parameterType": "NUMBER_DOUBLE", "isOptional": True},
    "fast": {"parameterType": "BOOLEAN", "isOptional": True},
    "ks": {"parameterType": "LIST", "isOptional": True},
    "config": {"parameterType": "STRUCT", "isOptional": True},
    "canary_traffic_percent": {"parameterType": "NUMBER_INTEGER", "isOptional": True},
    "max_duplicate_share": {"parameterType": "NUMBER_DOUBLE", "isOptional": True},
})


def test_text_from_the_command_line_takes_the_declared_types():
    typed = submit.typed_parameters(SPEC, {"data": "42", "steps": "100", "rate": "1", "fast": "true", "ks": "[5, 10]",
                                           "config": '{"lr": 0.1}'})
    assert typed == {"data": "42", "steps": 100, "rate": 1.0, "fast": True, "ks": [5, 10], "config": {"lr": 0.1}}
    assert isinstance(typed["rate"], float)
    assert submit.typed_parameters(SPEC, {"data": "d", "steps": 7}) == {"data": "d", "steps": 7}


@pytest.mark.parametrize("name, value", [("steps", "1.5"), ("steps", "true"), ("rate", "fast"), ("fast", "1"),
                                         ("ks", "5"), ("config", "[1]")])
def test_values_of_another_type_are_refused(name, value):
    with pytest.raises(SubmitError, match=f"parameter {name} is"):
        submit.typed_parameters(SPEC, {"data": "d", name: value})


@pytest.mark.parametrize("value", ["150", "-1", "12.5", "true", "ten"])
def test_a_canary_share_that_is_no_whole_percent_is_refused_naming_the_range(value):
    with pytest.raises(SubmitError, match=r"^canary_traffic_percent is .*; it is KServe's canaryTrafficPercent, .*"
                                          r"a whole number from 0 to 100"):
        submit.typed_parameters(SPEC, {"data": "d", "canary_traffic_percent": value})


@pytest.mark.parametrize("value", ["-0.1", "1.5", "NaN", "many"])
def test_a_quality_limit_outside_0_to_1_is_refused_naming_the_parameter(value):
    with pytest.raises(SubmitError, match=r"^max_duplicate_share is .*; it is a share of the interaction rows, "
                                          r"a number from 0 to 1"):
        submit.typed_parameters(SPEC, {"data": "d", "max_duplicate_share": value})


def test_shares_within_their_range_pass_typed():
    typed = submit.typed_parameters(SPEC, {"data": "d", "canary_traffic_percent": "100", "max_duplicate_share": "1"})
    assert typed["canary_traffic_percent"] == 100 and typed["max_duplicate_share"] == 1.0
    assert submit.typed_parameters(SPEC, {"data": "d", "canary_traffic_percent": "0"})["canary_traffic_percent"] == 0


def test_a_missing_required_parameter_is_named_with_its_description():
    with pytest.raises(SubmitError, match="needs data \\(data: the data\\)"):
        submit.typed_parameters(SPEC, {"steps": "1"})


def test_versions_are_named_from_package_version_revision_and_spec():
    assert submit.version_name(SPEC.digest, "abc1234") == f"{__version__}-abc1234-01234567"
    assert submit.version_name(SPEC.digest, "") == f"{__version__}-01234567"  # outside a git checkout


@pytest.mark.parametrize("expression, fields", [("0 0 3 * * *", 6), ("0 3 * * 1-5", 5), ("TZ=Europe/Paris 0 3 * * *", 5),
                                                ("", 6)])
def test_cron_expressions_with_the_fields_the_target_reads_pass(expression, fields):
    submit.check_cron(expression, fields)


def test_following_a_run_gives_up_after_the_timeout():
    clock = itertools.count(0, 10)
    run = submit.RunConfig(spec_path="", timeout_s=25, poll_s=0)
    with pytest.raises(SubmitError, match="still RUNNING after 25 s"):
        submit.follow(lambda: "RUNNING", run, sleep=lambda _: None, clock=lambda: next(clock))
