"""The push executor: only blessed models, new versions only, the pointer moved last."""
import json

import pytest

from kubetfx.components.common import fs, names, serving
from kubetfx.components.common.errors import PushError
from kubetfx.components.push import executor


@pytest.fixture()
def saved_model(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.weight = tf.Variable(3.0)
    module.score = tf.function(lambda x: x * module.weight, input_signature=[tf.TensorSpec([None], tf.float32)])
    path = str(tmp_path / "model")
    tf.saved_model.save(module, path)
    return path


def _blessing(tmp_path, blessed, name="blessing"):
    folder = tmp_path / name
    fs.write_json(str(folder / names.BLESSING_FILE), {"blessed": blessed, "gates": [{"name": "baseline", "passed": blessed}]})
    return str(folder)


def test_blessed_model_is_copied_to_a_new_version_and_the_pointer_follows(tmp_path, saved_model):
    root = str(tmp_path / "serving")
    first = executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="1")
    second = executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"), version="2")
    latest = serving.read_latest(root)
    assert latest["version"] == "2" and latest["previous_version"] == "1"
    assert first[names.META_PUSHED_TO] == fs.join(root, "1") and second["bytes"] > 0
    assert sorted(p.name for p in (tmp_path / "serving").iterdir()) == ["1", "2", names.LATEST_POINTER]
    import tensorflow as tf

    loaded = tf.saved_model.load(latest["model_dir"])
    assert float(loaded.score(tf.constant([2.0]))[0]) == 6.0


def test_unblessed_model_is_refused_and_nothing_changes(tmp_path, saved_model):
    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="1")
    before = (tmp_path / "serving" / names.LATEST_POINTER).read_text()
    with pytest.raises(PushError, match="not blessed.*failed gates: baseline"):
        executor.run(saved_model, _blessing(tmp_path, False, "b2"), root, str(tmp_path / "r2.md"), version="2")
    assert (tmp_path / "serving" / names.LATEST_POINTER).read_text() == before
    assert not (tmp_path / "serving" / "2").exists()


def test_an_existing_version_is_never_overwritten(tmp_path, saved_model):
    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="7")
    with pytest.raises(PushError, match="version '7' already exists"):
        executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"), version="7")


def test_a_crash_mid_copy_leaves_the_served_model_and_pointer_untouched(tmp_path, saved_model, monkeypatch):
    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="1")
    pointer_before = (tmp_path / "serving" / names.LATEST_POINTER).read_text()
    real_copy = fs.gfile().copy
    copied = []

    def copy_then_fail(src, dst, overwrite=False):
        if copied:
            raise OSError("disk full")
        copied.append(dst)
        real_copy(src, dst, overwrite=overwrite)

    monkeypatch.setattr(fs.gfile(), "copy", copy_then_fail)
    with pytest.raises(PushError, match="disk full.*served model is unchanged"):
        executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"), version="2")
    assert copied, "the copy had started before it failed"
    assert (tmp_path / "serving" / names.LATEST_POINTER).read_text() == pointer_before
    assert sorted(p.name for p in (tmp_path / "serving").iterdir()) == ["1", names.LATEST_POINTER]
    assert json.loads(pointer_before)["model_dir"] == fs.join(root, "1")


def test_missing_blessing_or_model_is_refused(tmp_path, saved_model):
    with pytest.raises(PushError, match="no blessing"):
        executor.run(saved_model, str(tmp_path / "nothing"), str(tmp_path / "s"), str(tmp_path / "r.md"))
    with pytest.raises(PushError, match="no SavedModel"):
        executor.run(str(tmp_path / "absent"), _blessing(tmp_path, True), str(tmp_path / "s"), str(tmp_path / "r.md"))
