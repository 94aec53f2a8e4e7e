"""Bounded inputs at serve: oversize ids and text refused with a 400 naming them, one log line
per refusal, a clear word when the request log has no salt, a monitor that skips bad records."""
import json
import logging

import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest

from kubetfx.pipelines.recommender import names
from kubetfx.pipelines.recommender.serving import instances
from kubetfx.pipelines.recommender.serving.loaded import INTEGER, STRING

FEATURES = {"user_id": STRING, "age": INTEGER, "gender": STRING}
GOOD = {"user_id": "u1", "age": 30, "gender": "F"}


@pytest.mark.parametrize("instance, message", [
    ({**GOOD, "gender": "x" * 900_000}, f"feature 'gender' has 900,000 characters; at most {names.MAX_TEXT_LENGTH:,}"),
    ({**GOOD, "user_id": "u" * 300}, f"feature 'user_id' has 300 characters; at most {names.MAX_ID_LENGTH:,}"),
    ({**GOOD, "exclude": ["p" * 300]}, "an item id in 'exclude' has 300 characters"),
])
def test_oversize_values_are_refused_naming_the_feature(instance, message):
    with pytest.raises(InvalidInput, match=message):
        instances.from_v1({"instances": [instance]}, FEATURES, 8, 10, 100)
    assert instances.from_v1({"instances": [GOOD]}, FEATURES, 8, 10, 100).columns["gender"] == ["F"]


def test_oversize_v2_strings_are_refused():
    request = InferRequest(model_name="m", infer_inputs=[
        InferInput("user_id", [1], "BYTES", ["u1"]), InferInput("age", [1], "INT64", [30]),
        InferInput("gender", [1], "BYTES", ["x" * (names.MAX_TEXT_LENGTH + 1)])])
    with pytest.raises(InvalidInput, match="input 'gender': a value has 2,049 characters"):
        instances.from_v2(request, FEATURES, 8, 10, 100)


def test_a_refused_request_is_one_log_line_without_a_traceback():
    from kserve.errors import invalid_input_handler  # noqa: F401 - the handler whose log is filtered
    from kserve.logging import logger

    from kubetfx.pipelines.recommender.serving.server import OneLineRefusals

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler, refusals = Keep(), OneLineRefusals()
    logger.addHandler(handler)
    logger.addFilter(refusals)
    try:
        try:
            raise InvalidInput("instance 0: feature 'gender' has 900,000 characters; at most 2,048 are accepted")
        except InvalidInput as error:
            logger.error("Exception:", exc_info=error)  # what KServe's invalid_input_handler logs
        logger.error("something else", exc_info=ValueError("kept"))
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(refusals)
    assert records[0] == "refused a request (400): instance 0: feature 'gender' has 900,000 characters; at most 2,048 are accepted"
    assert "Traceback" in records[1] or "ValueError" in records[1]  # other errors keep their detail


def test_a_request_log_without_a_salt_says_the_salt_is_missing(tmp_path):
    from kubetfx import cli

    with pytest.raises(SystemExit, match="the request log needs a salt to hash user ids with: pass --request-log-salt-file"):
        cli.main(["serve", "--serving-root", str(tmp_path), "--request-log-root", str(tmp_path / "log")])


def test_the_monitor_skips_a_bad_record_and_reads_the_rest(tmp_path, caplog, monkeypatch):
    from kubetfx.components.common import timing
    from kubetfx.pipelines.recommender.components.monitor import sources

    monkeypatch.setattr(timing.LOG, "handlers", [caplog.handler])  # kubetfx's log does not propagate

    day = tmp_path / "2026-01-01"
    day.mkdir()
    good = {"user": "ab" * 8, "features": {"age": 30, "gender": "F"}, "exclude": ["p1"], "k": 5}
    lines = [json.dumps(good), json.dumps({**good, "features": {"age": 31, "gender": "x" * 900_000}}),
             '{"user": "cut sh', json.dumps({**good, "features": ["not", "an", "object"]}), json.dumps(good)]
    (day / f"{names.REQUEST_LOG_PREFIX}1{names.REQUEST_LOG_SUFFIX}").write_text("\n".join(lines) + "\n")
    batch = sources.read_batch(sources.BatchSource(request_log_uri=str(tmp_path)))
    assert batch.rows == 2 and list(batch.users) == ["ab" * 8] * 2 and batch.users.dtype == object
    assert "skipped 3 malformed record(s)" in caplog.text and "lines 2, 3, 4" in caplog.text
