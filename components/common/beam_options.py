"""Beam pipeline options as the steps use them.

Beam 2.77's DirectRunner (also the default when no `--runner` is given) first tries its Prism runner,
which downloads a binary from GitHub at run time (no network in a step, and none wanted), and only
then falls back to the in-process FnApiRunner. A step names the FnApiRunner itself, which takes the
same `--direct_num_workers` and `--direct_running_mode` options, unless the user's Beam arguments name
a runner (Dataflow, Flink, ...).
"""
from apache_beam.options.pipeline_options import PipelineOptions

DEFAULT_RUNNER = "FnApiRunner"
# Rows per Arrow record batch read from a split. TFXIO's default (Beam batching, at most ~1,000)
# pays TensorFlow's and Beam's per-batch costs every thousand rows: with 8,192, at 1M rows, TFT's
# analyze-and-transform took 103-112 s against 121-126 s and TFDV's statistics 31.5 s against 37-40 s.
RECORD_BATCH_ROWS = 8192


def pipeline_args(beam_args: list[str] | None = None) -> list[str]:
    """The user's Beam arguments, with the in-process runner unless they name one."""
    args = list(beam_args or [])
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in args):
        args.append(f"--runner={DEFAULT_RUNNER}")
    return args


def runs_in_process(beam_args: list[str]) -> bool:
    """Whether these arguments run the pipeline in this process (no runner named, or a local one)."""
    runner = DEFAULT_RUNNER
    for index, arg in enumerate(beam_args):
        if arg.startswith("--runner="):
            runner = arg.split("=", 1)[1]
        elif arg == "--runner" and index + 1 < len(beam_args):
            runner = beam_args[index + 1]
    return runner in (DEFAULT_RUNNER, "DirectRunner", "BundleBasedDirectRunner")


def pipeline_options(beam_args: list[str] | None = None) -> PipelineOptions:
    return PipelineOptions(pipeline_args(beam_args))
