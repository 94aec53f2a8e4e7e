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
