"""Beam runs in process unless the user names a runner: no Prism download at run time."""
from apache_beam.options.pipeline_options import StandardOptions

from kubetfx.components.common import beam_options


def test_no_runner_given_runs_in_process_without_prism():
    options = beam_options.pipeline_options(["--direct_num_workers=2"]).view_as(StandardOptions)
    assert options.runner == "FnApiRunner"


def test_the_users_runner_is_kept():
    for args in (["--runner=DataflowRunner"], ["--runner", "FlinkRunner"]):
        assert beam_options.pipeline_options(args).view_as(StandardOptions).runner in ("DataflowRunner", "FlinkRunner")


def test_only_a_local_runner_counts_as_in_process():
    assert beam_options.runs_in_process(beam_options.pipeline_args([]))
    assert beam_options.runs_in_process(["--runner", "DirectRunner"])
    assert not beam_options.runs_in_process(["--runner=DataflowRunner", "--project=p"])
    assert not beam_options.runs_in_process(["--runner", "FlinkRunner"])


def test_large_input_runs_on_every_cpu_small_input_in_one_process(monkeypatch):
    monkeypatch.setattr(beam_options, "available_cpus", lambda: 4)
    large = beam_options.pipeline_args([], input_bytes=beam_options.PARALLEL_INPUT_BYTES)
    assert "--direct_num_workers=4" in large and "--direct_running_mode=multi_processing" in large
    small = beam_options.pipeline_args([], input_bytes=beam_options.PARALLEL_INPUT_BYTES - 1)
    assert not any(arg.startswith("--direct_") for arg in small)


def test_the_users_own_direct_options_and_runner_are_not_overridden(monkeypatch):
    monkeypatch.setattr(beam_options, "available_cpus", lambda: 4)
    huge = 10 * beam_options.PARALLEL_INPUT_BYTES
    assert beam_options.pipeline_args(["--direct_num_workers=1"], huge) == ["--direct_num_workers=1", "--runner=FnApiRunner"]
    assert beam_options.pipeline_args(["--runner=DataflowRunner"], huge) == ["--runner=DataflowRunner"]
    monkeypatch.setattr(beam_options, "available_cpus", lambda: 1)
    assert beam_options.pipeline_args([], huge) == ["--runner=FnApiRunner"]


def test_available_cpus_follows_a_cgroup_quota(tmp_path):
    import os

    cpus = len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # a pod limited to 1.5 CPUs may use 2 at most
    assert beam_options.available_cpus(str(quota)) == min(cpus, 2)
    quota.write_text("max 100000\n")
    assert beam_options.available_cpus(str(quota)) == cpus
    assert beam_options.available_cpus(str(tmp_path / "absent")) == cpus
