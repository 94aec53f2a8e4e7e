"""`python -m kubetfx.components.train.worker`: the train executor from plain URIs and values.

What every pod of a TFJob runs (the Kubeflow Training Operator sets `TF_CONFIG`), and what local
multi-process runs start, one process per worker. The chief writes the model, the TensorBoard
logs, the report and, with `--figures`, the executor's figures as JSON (how a launcher learns them).
"""
import argparse
import dataclasses
import json
import os
import sys
from typing import Mapping

from kubetfx.components.common import fs
from kubetfx.components.common.errors import KubetfxError
from kubetfx.components.train import executor


@dataclasses.dataclass(frozen=True)
class WorkerArgs:
    """The train executor's arguments, as URIs and plain values, one command-line flag each."""

    transformed_examples: str
    transform_graph: str
    schema: str
    module_file: str
    model: str
    model_run: str
    report: str
    train_steps: int
    eval_steps: int
    hyperparameters: dict = dataclasses.field(default_factory=dict)
    custom_config: dict = dataclasses.field(default_factory=dict)
    cpu_replicas: int = 0
    model_contract: bool = True
    figures: str = ""

    def argv(self) -> list[str]:
        """The command-line flags that `main` parses back into these arguments."""
        flags = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            flags += [_flag(field.name), json.dumps(value) if isinstance(value, dict) else str(value)]
        return flags


def command() -> list[str]:
    """The command that starts a worker in the trainer image."""
    return ["python3", "-m", __name__]


def _flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=__name__, description=__doc__.splitlines()[0])
    readers = {str: str, int: int, bool: _boolean, dict: json.loads}
    for field in dataclasses.fields(WorkerArgs):
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        parser.add_argument(_flag(field.name), dest=field.name, type=readers[field.type], required=required)
    return parser


def _boolean(text: str) -> bool:
    """Reads back a flag's `True`/`False`, as `WorkerArgs.argv` writes it."""
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"'{text}' is not a boolean: pass True or False")
    return text.lower() == "true"


def run(args: WorkerArgs, environ: Mapping[str, str]) -> dict:
    """Runs the train executor as one worker; the chief writes the figures where `args.figures` says."""
    figures = executor.run(args.transformed_examples, args.transform_graph, args.schema, args.module_file,
                           args.model, args.model_run, args.report, args.train_steps, args.eval_steps,
                           args.hyperparameters, args.custom_config, environ=environ,
                           cpu_replicas=args.cpu_replicas, model_contract=args.model_contract)
    if figures["chief"] and args.figures:
        fs.write_json(args.figures, figures)
    return figures


def parse(argv: list[str] | None) -> WorkerArgs:
    """Reads back the flags `WorkerArgs.argv` writes (the process's own when `argv` is None)."""
    parsed = {name: value for name, value in vars(_parser().parse_args(argv)).items() if value is not None}
    return WorkerArgs(**parsed)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        run(args, os.environ)
    except KubetfxError as error:
        # The input or configuration is at fault, not the code: say what, without a traceback.
        print(f"kubetfx: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
