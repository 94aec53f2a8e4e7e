"""Beam pipeline options as the steps use them.

Beam 2.77's DirectRunner (also the default when no `--runner` is given) first tries its Prism runner,
which downloads a binary from GitHub at run time (no network in a step, and none wanted), and only
then falls back to the in-process FnApiRunner. A step names the FnApiRunner itself, which takes the
same `--direct_num_workers` and `--direct_running_mode` options, unless the user's Beam arguments name
a runner (Dataflow, Flink, ...).

On large input (`input_bytes` over `PARALLEL_INPUT_BYTES`) and more than one CPU, a step that sets no
`--direct_*` option of its own runs the FnApiRunner with one worker process per CPU: its default is
one process, one core. Measured on 1M interactions (two files a split, 2 cores): transform 129 s in
one process, 100 s in two. Small input stays in one process, where starting workers costs more.
"""
import math
import os
import pathlib

from apache_beam.options.pipeline_options import PipelineOptions

DEFAULT_RUNNER = "FnApiRunner"
PARALLEL_INPUT_BYTES = 32 * 2**20
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def pipeline_args(beam_args: list[str] | None = None, input_bytes: int = 0) -> list[str]:
    """The user's Beam arguments, with the in-process runner unless they name one, on every CPU
    when the input is large and they set no `--direct_*` option."""
    args = list(beam_args or [])
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in args):
        args.append(f"--runner={DEFAULT_RUNNER}")
        workers = available_cpus()
        if input_bytes >= PARALLEL_INPUT_BYTES and workers > 1 and not any(arg.startswith("--direct_") for arg in args):
            args += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    return args


def available_cpus(cpu_max_file: str = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may use: its affinity, bounded by a cgroup's CPU quota (a Kubernetes
    pod's limit, which `os.cpu_count()` does not see)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = pathlib.Path(cpu_max_file).read_text().split()[:2]
    except (OSError, ValueError):
        return cpus
    if quota == "max":
        return cpus
    return max(1, min(cpus, math.ceil(int(quota) / int(period))))


def runs_in_process(beam_args: list[str]) -> bool:
    """Whether these arguments run the pipeline in this process (no runner named, or a local one)."""
    runner = DEFAULT_RUNNER
    for index, arg in enumerate(beam_args):
        if arg.startswith("--runner="):
            runner = arg.split("=", 1)[1]
        elif arg == "--runner" and index + 1 < len(beam_args):
            runner = beam_args[index + 1]
    return runner in (DEFAULT_RUNNER, "DirectRunner", "BundleBasedDirectRunner")


def pipeline_options(beam_args: list[str] | None = None, input_bytes: int = 0) -> PipelineOptions:
    return PipelineOptions(pipeline_args(beam_args, input_bytes))
