"""Beam pipeline options as the steps use them.

With no `--runner`, Beam 2.77 first tries its Prism runner, which downloads a binary from GitHub at
run time (no network in a step, and none wanted), before it falls back to the DirectRunner. A step
names the DirectRunner itself unless the user's Beam arguments name a runner (Dataflow, Flink, ...).
"""
from apache_beam.options.pipeline_options import PipelineOptions

DEFAULT_RUNNER = "DirectRunner"


def pipeline_options(beam_args: list[str] | None = None) -> PipelineOptions:
    args = list(beam_args or [])
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in args):
        args.append(f"--runner={DEFAULT_RUNNER}")
    return PipelineOptions(args)
