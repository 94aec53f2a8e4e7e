"""`kubetfx`: run the reference pipeline locally, compile it for a cluster."""
import argparse
import sys

from kubetfx.commands import bench, compile, generate, monitor, promote, recommend, rollback, run, serve, submit
# Read by tests and scripts as cli.<NAME>.
from kubetfx.commands.compile import (COMPILED_FILE, DEFAULT_IMAGE_REPO, MONITOR_COMPILED_FILE,  # noqa: F401
                                      VERTEX_COMPILED_FILE)
from kubetfx.commands.submit import SUBMIT_ENVIRONMENT  # noqa: F401
from kubetfx.version import __version__

# In the order `kubetfx --help` lists them; each module has NAME, add_arguments(commands) and main(args).
COMMANDS = (run, compile, generate, bench, serve, recommend, promote, rollback, monitor, submit)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubetfx", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_arguments(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from kubetfx.components.common.errors import KubetfxError

    try:
        return {command.NAME: command.main for command in COMMANDS}[args.command](args)
    except KubetfxError as error:
        print(f"kubetfx: {error}", file=sys.stderr)
        return 2
