"""`kubetfx promote`: point LATEST at a pushed version (README, "Deploying and maintaining")."""
import argparse

NAME = "promote"


def add_arguments(commands) -> None:
    promote = commands.add_parser(NAME, help="point LATEST at a pushed version (atomically; nothing is deleted)")
    promote.add_argument("--serving-root", required=True, help="where push puts blessed models")
    promote.add_argument("--version", required=True, help="the version folder to serve")


def main(args: argparse.Namespace) -> int:
    from kubetfx.components.common import rollout

    pointer = rollout.promote(args.serving_root, args.version)
    print(f"LATEST under {args.serving_root} now names version {pointer['version']} "
          f"(was {pointer['previous_version']}, which is kept)")
    return 0
