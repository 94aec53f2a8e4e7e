"""Moving LATEST by hand: `kubetfx promote --version V` and `kubetfx rollback`.

Both replace the pointer with `serving.replace_latest`, the compare-and-swap push uses, so the
move is atomic and lost if anyone else moved LATEST meanwhile (nothing is then changed). Neither
deletes or rewrites a version folder: the version moved away from stays where it is, ready to
be promoted again. The version moved to is checked against its manifest first (a model whose
files changed is refused, naming the file, and LATEST stays).

Rollback goes to the newest complete version older than the one LATEST names (versions ordered
as push numbers them), so successive rollbacks walk back through the pushes; with none older, it
is an error and nothing moves. Promote moves to any complete version, older or newer.
"""
import datetime

from kubetfx.components.common import fs, integrity, serving
from kubetfx.components.common.errors import KubetfxError

PROMOTE, ROLLBACK = "promote", "rollback"


class RolloutError(KubetfxError):
    """LATEST could not be moved; it names what it named before."""


def versions(serving_root: str) -> list[str]:
    """The complete versions under `serving_root`, oldest first: folders with a SavedModel, not
    hidden (push's staging) and not claimed by a push still running (a `.pushing-*` marker)."""
    if not fs.exists(serving_root):
        return []
    entries = [entry.rstrip("/") for entry in fs.gfile().listdir(serving_root)]
    in_flight = {entry.split("-", 2)[-1] for entry in entries if entry.startswith(".pushing-")}
    found = [entry for entry in entries
             if not entry.startswith(".") and entry != "LATEST" and entry not in in_flight
             and fs.exists(fs.join(serving_root, entry, "saved_model.pb"))]
    return sorted(found, key=serving.version_key)


def promote(serving_root: str, version: str) -> dict:
    """Points LATEST at `version`; returns the new pointer."""
    current = _current(serving_root)
    available = versions(serving_root)
    if version not in available:
        raise RolloutError(f"there is no complete version '{version}' under '{serving_root}' (versions: "
                           f"{', '.join(available) or 'none'}); LATEST still names {current!r}")
    if version == current:
        raise RolloutError(f"LATEST under '{serving_root}' already names version '{version}'; nothing moved")
    return _move(serving_root, version, current, PROMOTE)


def rollback(serving_root: str) -> dict:
    """Points LATEST at the newest version older than the one it names; returns the new pointer."""
    current = _current(serving_root)
    if current is None:
        raise RolloutError(f"nothing to roll back under '{serving_root}': no version has been pushed (no LATEST)")
    older = [version for version in versions(serving_root)
             if serving.version_key(version) < serving.version_key(current)]
    if not older:
        raise RolloutError(f"version '{current}' is the earliest under '{serving_root}': there is no earlier "
                           "version to roll back to; LATEST was not moved")
    return _move(serving_root, older[-1], current, ROLLBACK)


def _current(serving_root: str) -> str | None:
    pointer = serving.read_latest(serving_root)  # a malformed pointer raises PointerError, naming it
    return pointer["version"] if pointer else None


def _move(serving_root: str, version: str, current: str | None, action: str) -> dict:
    try:
        integrity.verify(fs.join(serving_root, version))
    except integrity.IntegrityError as error:
        raise RolloutError(f"{error}; LATEST still names {current!r}") from None
    pointer = {"version": version, "model_dir": version, "previous_version": current, "moved_by": action,
               "moved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    try:
        serving.replace_latest(serving_root, pointer, current)
    except serving.PointerMoved as moved:
        raise RolloutError(f"LATEST under '{serving_root}' moved from {current!r} to {moved.found!r} while this "
                           f"{action} ran; nothing was changed, run it again if still wanted") from None
    return pointer
