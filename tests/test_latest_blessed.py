"""latest_blessed: the version the serving root's LATEST names, copied into a model artifact in TFX's
layout (Format-Serving/) and checked against push's manifest; an empty root gives found: false."""
import pytest

from kubetfx.components.common import fs, integrity, names
from kubetfx.components.common.errors import PointerError, ServingError
from kubetfx.components.latest_blessed import executor as latest_blessed
from kubetfx.components.push import executor as push


def saved_model(path, weight: float) -> str:
    import tensorflow as tf

    module = tf.Module()
    module.weight = tf.Variable(weight)
    module.score = tf.function(lambda x: x * module.weight, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(path))
    return str(path)


def pushed(tmp_path, *weights: float) -> str:
    """A serving root with one version per weight, pushed by push (LATEST names the last)."""
    root = str(tmp_path / "serving")
    fs.write_json(str(tmp_path / "blessing" / names.BLESSING_FILE), {names.META_BLESSED: True})
    for number, weight in enumerate(weights, 1):
        push.run(saved_model(tmp_path / f"model{number}", weight), str(tmp_path / "blessing"), root,
                 str(tmp_path / f"push{number}.md"), version=str(number),
                 lineage=push.run_lineage(f"run-{number}", "nightly"))
    return root


def test_the_version_latest_names_becomes_the_model_artifact(tmp_path):
    import tensorflow as tf

    root = pushed(tmp_path, 2.0, 5.0)
    figures = latest_blessed.run(root, str(tmp_path / "champion"))
    assert figures["found"] and figures["version"] == "2" and figures["serving_root"] == root
    assert figures["source"] == fs.join(root, "2") and figures["lineage"]["run"]["id"] == "run-2"
    loaded = tf.saved_model.load(str(tmp_path / "champion" / names.SERVING_MODEL_SUBDIR))
    assert float(loaded.score(tf.constant([1.0]))[0]) == 5.0


def test_an_empty_serving_root_gives_an_empty_model_that_says_so(tmp_path):
    figures = latest_blessed.run(str(tmp_path / "nothing-yet"), str(tmp_path / "champion"))
    assert figures["found"] is False and "version" not in figures
    assert (tmp_path / "champion").is_dir() and not any((tmp_path / "champion").iterdir())


def test_a_served_version_changed_after_push_is_refused_naming_the_file(tmp_path):
    root = pushed(tmp_path, 2.0)
    (tmp_path / "serving" / "1" / "saved_model.pb").write_bytes(b"tampered")
    with pytest.raises(integrity.IntegrityError, match="'saved_model.pb' changed"):
        latest_blessed.run(root, str(tmp_path / "champion"))


def test_a_champion_without_a_manifest_is_refused_when_one_is_required(tmp_path):
    root = pushed(tmp_path, 2.0)
    (tmp_path / "serving" / "1" / integrity.MANIFEST_FILE).unlink()  # as pushed before manifests existed
    with pytest.raises(integrity.IntegrityError, match=f"the model at '{root}/1' has no MANIFEST.json, which is "
                                                       "required .* push the model again"):
        latest_blessed.run(root, str(tmp_path / "required"), require_manifest=True)
    assert not (tmp_path / "required" / names.SERVING_MODEL_SUBDIR).exists()  # refused before anything is copied
    figures = latest_blessed.run(root, str(tmp_path / "unverified"))
    assert figures["found"] and figures["version"] == "1" and figures["lineage"] == {}


def test_a_pointer_to_nothing_or_unreadable_is_an_error_saying_what_to_do(tmp_path):
    root = tmp_path / "serving"
    root.mkdir()
    (root / names.LATEST_POINTER).write_text('{"version": "7"}')
    with pytest.raises(ServingError, match="names version '7'.*does not exist: push again"):
        latest_blessed.run(str(root), str(tmp_path / "a"))
    (root / names.LATEST_POINTER).write_text("not json")
    with pytest.raises(PointerError, match="is not JSON.*push again"):
        latest_blessed.run(str(root), str(tmp_path / "b"))
