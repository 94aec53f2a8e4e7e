"""`python -m kubetfx.components.train.worker`: the train executor from plain URIs and values.

What every pod of a TFJob runs (the Kubeflow Training Operator sets `TF_CONFIG`), and what local
multi-process runs start, one process per worker. The chief writes the model, the TensorBoard
logs, the report and, with `--figures`, the executor's figures as JSON (how a launcher learns them).
"""
import os
import sys
from typing import Mapping

from kubetfx.components.common import fs
from kubetfx.components.common.errors import KubetfxError
from kubetfx.components.train import executor
from kubetfx.components.train.args import TrainArgs


def command() -> list[str]:
    """The command that starts a worker in the trainer image; `TrainArgs.argv()` are its arguments."""
    return ["python3", "-m", __name__]


def run(args: TrainArgs, environ: Mapping[str, str]) -> dict:
    """Runs the train executor as one worker; the chief writes the figures where `args.figures` says."""
    figures = executor.run(args, environ)
    if figures["chief"] and args.figures:
        fs.write_json(args.figures, figures)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = TrainArgs.parse(argv, prog=__name__)
    try:
        run(args, os.environ)
    except KubetfxError as error:
        # The input or configuration is at fault, not the code: say what, without a traceback.
        print(f"kubetfx: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
