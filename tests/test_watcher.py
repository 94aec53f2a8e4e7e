"""The LATEST watcher of `kubetfx serve`: no pointer, however malformed, stops it, and the
`kubetfx_serving_latest` gauge says when the served version is not the pointer's."""
import json

import pytest
from prometheus_client import REGISTRY

from kubetfx.components.common import fs, names, serving
from kubetfx.pipelines.recommender.serving import watcher as watcher_module
from kubetfx.pipelines.recommender.serving.watcher import LatestWatcher


class FakeModel:
    """Stands for a LoadedModel: loads any folder that exists, except one named 'broken'."""

    def __init__(self, model_dir: str, version: str, require_manifest: bool = False):
        if not fs.exists(model_dir) or model_dir.rstrip("/").endswith("broken"):
            raise OSError(f"cannot load {model_dir}")
        self.model_dir, self.version = model_dir, version


@pytest.fixture()
def root(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(watcher_module, "LoadedModel", FakeModel)
    # kubetfx's log does not propagate to the root logger once configured: catch it where it is.
    monkeypatch.setattr(watcher_module.LOG, "handlers", [caplog.handler])
    for version in ("1", "2", "3", "broken"):
        (tmp_path / version).mkdir()
    return tmp_path


def _write_pointer(root, value) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    (root / names.LATEST_POINTER).write_text(text)


def _gauge() -> float:
    return REGISTRY.get_sample_value("kubetfx_serving_latest")


def _errors() -> float:
    return REGISTRY.get_sample_value("kubetfx_latest_pointer_errors_total") or 0.0


@pytest.mark.parametrize("malformed", [
    {"model_dir": "ROOT/2"},  # no version: the KeyError that killed the watcher thread
    "not json {",
    '"2"',  # a JSON string
    "42",  # a JSON number
    {"version": None, "model_dir": "2"},
    {"version": ["2"]},
    {"version": "../2"},
])
def test_a_malformed_pointer_is_logged_and_counted_and_the_watcher_goes_on(root, malformed, caplog):
    if isinstance(malformed, dict) and "model_dir" in malformed:
        malformed = {**malformed, "model_dir": malformed["model_dir"].replace("ROOT", str(root))}
    swapped = []
    watcher = LatestWatcher(str(root), "1", swapped.append, poll_seconds=60)
    errors_before = _errors()
    _write_pointer(root, malformed)
    watcher.check_once()
    watcher.check_once()  # the same problem is logged and counted once
    assert swapped == [] and not watcher.serving_latest and _gauge() == 0
    assert _errors() - errors_before == 1
    assert "LATEST pointer" in caplog.text and "still serving 1" in caplog.text
    _write_pointer(root, {"version": "2", "model_dir": "2"})
    watcher.check_once()
    assert [model.version for model in swapped] == ["2"] and watcher.serving_latest and _gauge() == 1


def test_the_watcher_thread_survives_a_malformed_pointer(root):
    import threading

    swapped = threading.Event()
    watcher = LatestWatcher(str(root), "1", lambda model: swapped.set(), poll_seconds=0.01).start()
    try:
        _write_pointer(root, {"model_dir": str(root / "2")})
        assert not swapped.wait(0.2)
        _write_pointer(root, {"version": "2", "model_dir": "2"})
        assert swapped.wait(5), "the watcher stopped following LATEST after a malformed pointer"
    finally:
        watcher.stop()


def test_an_unloadable_version_shows_as_not_serving_latest_until_a_good_one(root):
    swapped = []
    watcher = LatestWatcher(str(root), "1", swapped.append, poll_seconds=60)
    _write_pointer(root, {"version": "broken", "model_dir": "broken"})
    watcher.check_once()
    assert swapped == [] and _gauge() == 0
    _write_pointer(root, {"version": "3", "model_dir": "3"})
    watcher.check_once()
    assert [model.version for model in swapped] == ["3"] and _gauge() == 1


def test_pointers_are_relative_to_the_root_and_old_absolute_ones_still_read(tmp_path):
    moved = tmp_path / "moved"
    (moved / "5").mkdir(parents=True)
    _write_pointer(moved, {"version": "5", "model_dir": "/elsewhere/old-root/5"})  # written before the move
    assert serving.read_latest(str(moved))["model_dir"] == str(moved / "5")
    _write_pointer(moved, {"version": "5", "model_dir": "5"})
    assert serving.read_latest(str(moved))["model_dir"] == str(moved / "5")
    _write_pointer(moved, {"version": 5})  # a number, as JSON allows
    assert serving.read_latest(str(moved))["version"] == "5"
