"""Safe rollout: `kubetfx promote` and `kubetfx rollback` move LATEST with the compare-and-swap,
keep every version folder, refuse a version whose files changed, and say clearly when there is
nothing earlier to roll back to (moving nothing)."""
import pytest

import contract_model
from kubetfx import cli
from kubetfx.components.common import names, rollout, serving
from kubetfx.components.common.rollout import RolloutError

CATALOGUE = ["a", "b", "c", "d", "e", "f"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return contract_model.build(str(tmp_path_factory.mktemp("model") / "model"), CATALOGUE)


@pytest.fixture()
def root(model_dir, tmp_path):
    root = tmp_path / "serving"
    for version in ("100", "200", "300"):
        contract_model.push(model_dir, str(root), tmp_path, version)
    return root


def _latest(root) -> str:
    return serving.read_latest(str(root))["version"]


def _folders(root) -> set[str]:
    return {path.name for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")}


def test_rollback_walks_back_through_the_pushes_keeping_every_version(root, capsys):
    assert cli.main(["rollback", "--serving-root", str(root)]) == 0
    assert _latest(root) == "200" and _folders(root) == {"100", "200", "300"}
    assert "rolled back to version 200 (from 300, which is kept" in capsys.readouterr().out
    pointer = serving.read_latest(str(root))
    assert pointer["previous_version"] == "300" and pointer["moved_by"] == "rollback"
    assert pointer["model_dir"] == str(root / "200")
    rollout.rollback(str(root))
    assert _latest(root) == "100" and _folders(root) == {"100", "200", "300"}


def test_a_rollback_with_no_earlier_version_is_a_clear_error_and_nothing_moves(root, capsys):
    rollout.promote(str(root), "100")
    before = (root / names.LATEST_POINTER).read_text()
    assert cli.main(["rollback", "--serving-root", str(root)]) == 2
    assert "there is no earlier version to roll back to; LATEST was not moved" in capsys.readouterr().err
    assert (root / names.LATEST_POINTER).read_text() == before and _folders(root) == {"100", "200", "300"}
    with pytest.raises(RolloutError, match="no version has been pushed"):
        rollout.rollback(str(root.parent / "empty"))


def test_promote_moves_to_any_complete_version_and_back(root):
    rollout.rollback(str(root))
    assert cli.main(["promote", "--serving-root", str(root), "--version", "300"]) == 0
    assert _latest(root) == "300" and serving.read_latest(str(root))["previous_version"] == "200"
    with pytest.raises(RolloutError, match="no complete version '999'.*versions: 100, 200, 300"):
        rollout.promote(str(root), "999")
    with pytest.raises(RolloutError, match="already names version '300'"):
        rollout.promote(str(root), "300")
    assert _latest(root) == "300"


def test_a_version_whose_files_changed_is_not_moved_to(root):
    (root / "200" / "saved_model.pb").write_bytes(b"tampered")
    with pytest.raises(RolloutError, match="'saved_model.pb' changed.*LATEST still names '300'"):
        rollout.rollback(str(root))
    assert _latest(root) == "300"


def test_a_push_in_flight_or_staging_folder_is_not_a_version(root):
    (root / ".pushing-1700000000000-400").write_text("")
    (root / "400").mkdir()
    (root / "400" / "saved_model.pb").write_bytes(b"half copied")
    (root / ".staging-1-500-abc").mkdir()
    assert rollout.versions(str(root)) == ["100", "200", "300"]


def test_a_pointer_moved_meanwhile_makes_the_move_fail_without_changing_anything(root, monkeypatch):
    real = serving.replace_latest

    def someone_else_pushes_first(serving_root, pointer, expected):
        real(serving_root, {"version": "100", "model_dir": "100"}, expected)  # another writer wins the race
        real(serving_root, pointer, expected)

    monkeypatch.setattr(serving, "replace_latest", someone_else_pushes_first)
    with pytest.raises(RolloutError, match="moved from '300' to '100' while this rollback ran; nothing was changed"):
        rollout.rollback(str(root))
    assert _latest(root) == "100"


def test_the_server_follows_a_rollback(root):
    from kubetfx.pipelines.recommender.serving.watcher import LatestWatcher

    swapped = []
    watcher = LatestWatcher(str(root), "300", swapped.append, poll_seconds=60)
    rollout.rollback(str(root))
    watcher.check_once()
    assert [model.version for model in swapped] == ["200"]
