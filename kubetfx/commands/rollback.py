"""`kubetfx rollback`: point LATEST back at the version before it (README, "Deploying and maintaining")."""
import argparse

NAME = "rollback"


def add_arguments(commands) -> None:
    rollback = commands.add_parser(NAME, help="point LATEST back at the version before it (nothing is deleted)")
    rollback.add_argument("--serving-root", required=True, help="where push puts blessed models")


def main(args: argparse.Namespace) -> int:
    from kubetfx.components.common import rollout

    pointer = rollout.rollback(args.serving_root)
    print(f"LATEST under {args.serving_root} rolled back to version {pointer['version']} "
          f"(from {pointer['previous_version']}, which is kept; `kubetfx promote --version "
          f"{pointer['previous_version']}` moves it back)")
    return 0
