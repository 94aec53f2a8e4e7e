"""Runs a pipeline with `kfp.local` in the current environment and summarises what it did.

The summary is read from the ExecutorOutput each task wrote (KFP's own record of its output
artifacts and their metadata), so it shows exactly what the Kubeflow UI would.
"""
import contextlib
import io
import json
import os
import pathlib
import re
import shutil
import sys
import time
import warnings

from kubetfx.components.common import names
from kubetfx.pipelines import container_runner

SUMMARY_FILE = "summary.json"
SERVING_ROOT_PARAMETER = "serving_root"  # the folder push writes to: mounted read-write into the steps' containers
REPORTS_DIR = "reports"
_EXECUTOR_OUTPUT = "executor_output.json"
_GENERIC_EVALUATOR = "evaluator"  # the generic evaluator's task (TFX's Evaluator), as pipelines/ranking names it


def run(pipeline_func, arguments: dict, run_dir: str, in_containers: bool = False) -> dict:
    """Runs `pipeline_func(**arguments)` locally; writes and returns the run's summary.

    `in_containers`: each step runs in its component's image through kfp.local's DockerRunner
    (DOCKER_HOST names the engine), as on a cluster; otherwise every step runs in this very
    environment as a subprocess (quicker to iterate on).
    """
    from kfp import local

    run_path = pathlib.Path(run_dir).resolve()
    pipeline_root = run_path / "pipeline_root"
    containers: dict = {}
    if in_containers:
        mounts = container_runner.mounts_for(arguments, writable=(SERVING_ROOT_PARAMETER,))
        runner, context = container_runner.runner(), container_runner.steps_in_containers(mounts, containers)
    else:
        runner, context = local.SubprocessRunner(use_venv=False), contextlib.nullcontext()
    local.init(runner=runner, pipeline_root=str(pipeline_root), raise_on_error=True)
    started = time.perf_counter()
    error = None
    with warnings.catch_warnings(), context:
        # The steps' image is this very environment; kfp.local's guess from the image name is moot.
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")
        try:
            with _captured_output() as output:
                pipeline_func(**arguments)
        except RuntimeError as failure:
            error = failure
    summary = summarise(_latest_run(pipeline_root), time.perf_counter() - started, error)
    if error:  # kfp.local says only "Inner task failed: 'ingest'": the step's own error says what to do
        summary["error"] = step_error(output.getvalue()) or plain(summary["error"])
    summary["runner"] = container_runner.RUNNER_NAME if in_containers else f"subprocess ({sys.executable})"
    summary["images"] = containers
    summary["reports"] = collect_reports(summary["reports"], run_path / REPORTS_DIR)
    (run_path / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def collect_reports(reports: dict, target: pathlib.Path) -> dict:
    """Copies each step's report beside the summary as <step>.html or <step>.md, to open directly."""
    target.mkdir(parents=True, exist_ok=True)
    collected = {}
    for step, uri in reports.items():
        source = pathlib.Path(uri)
        text = source.read_text()
        suffix = ".html" if text.lstrip().lower().startswith("<!doctype html") else ".md"
        destination = target / f"{step}{suffix}"
        shutil.copyfile(source, destination)
        collected[step] = str(destination)
    return collected


def _latest_run(pipeline_root: pathlib.Path) -> pathlib.Path | None:
    runs = [p for p in pipeline_root.iterdir() if p.is_dir() and not p.name.startswith(".")] if pipeline_root.exists() else []
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def read_task_outputs(run_root: pathlib.Path) -> dict:
    """Task name → {output name → metadata (artifacts) or value (parameters)}."""
    tasks = {}
    for output_file in sorted(run_root.glob(f"*/{_EXECUTOR_OUTPUT}")):
        content = json.loads(output_file.read_text())
        outputs = {name: value for name, value in content.get("parameterValues", {}).items()}
        for name, artifact_list in content.get("artifacts", {}).items():
            artifact = artifact_list["artifacts"][0]
            outputs[name] = {"uri": artifact.get("uri", ""), **artifact.get("metadata", {})}
        tasks[output_file.parent.name] = outputs
    return tasks


def summarise(run_root: pathlib.Path | None, total_seconds: float, error: Exception | None) -> dict:
    tasks = read_task_outputs(run_root) if run_root else {}
    steps = {task: seconds for task in _in_run_order(run_root, tasks)
             if (seconds := _wall_seconds(tasks[task])) is not None}
    evaluate = tasks.get(names.TASK_EVALUATE) or tasks.get(_GENERIC_EVALUATOR, {})
    push = tasks.get(names.TASK_PUSH, {})
    return {
        "status": "failed" if error else "succeeded",
        "error": str(error) if error else None,
        "failed_step": _failed_step(run_root, tasks) if error else None,
        "steps": steps,
        "total_seconds": round(total_seconds, 3),
        "rows": tasks.get(names.TASK_INGEST, {}).get("examples", {}).get(names.META_ROWS, {}),
        "data_quality": {problem: check["rows"] for problem, check in
                         tasks.get(names.TASK_INGEST, {}).get("examples", {}).get("quality", {}).items()},
        "metrics": {k: v for k, v in evaluate.get("metrics", {}).items() if k != "uri"},
        "blessed": evaluate.get("Output"),
        "pushed_to": push.get("pushed_model", {}).get(names.META_PUSHED_TO),
        "reports": {task: outputs["report"]["uri"] for task, outputs in tasks.items() if "report" in outputs},
        "run_root": str(run_root) if run_root else None,
    }


def _in_run_order(run_root: pathlib.Path | None, tasks: dict) -> list[str]:
    """The tasks in the order they finished."""
    return sorted(tasks, key=lambda task: (run_root / task / _EXECUTOR_OUTPUT).stat().st_mtime)


def _wall_seconds(outputs: dict) -> float | None:
    """A step's wall time: its report's, else the first output artifact's that records one (the
    generic data components have no report)."""
    for output in sorted(outputs, key=lambda name: name != "report"):
        if isinstance(outputs[output], dict) and names.META_WALL_SECONDS in outputs[output]:
            return outputs[output][names.META_WALL_SECONDS]
    return None


def _failed_step(run_root: pathlib.Path | None, tasks: dict) -> str | None:
    if not run_root:
        return None
    started = [p.name for p in run_root.iterdir() if p.is_dir() and p.name not in tasks]
    return started[0] if started else None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The last line of a Python traceback: the exception's (possibly qualified) name and its message.
_RAISED = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception|Exit)): (.+)$")
_KEPT_CHARS = 256_000


def plain(text: str) -> str:
    """`text` without terminal colour codes (kfp.local colours task names and statuses)."""
    return _ANSI.sub("", text)


def step_error(output: str) -> str | None:
    """The error a failed step raised ('InputDataError: interactions file ...'), from its log."""
    for line in reversed(plain(output).splitlines()):
        found = _RAISED.match(line.strip())
        if found:
            return f"{found.group(1)}: {found.group(2)}"
    return None


class _Tee(io.StringIO):
    """Writes through to `stream` and keeps the last _KEPT_CHARS characters."""

    def __init__(self, stream):
        super().__init__()
        self._stream, self._kept = stream, ""

    def write(self, text: str) -> int:
        self._kept = (self._kept + text)[-_KEPT_CHARS:]
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def getvalue(self) -> str:
        return self._kept


@contextlib.contextmanager
def _captured_output():
    """The steps' output as kfp.local prints it (each task's log goes through print), kept for
    the summary while it still reaches the console."""
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        yield tee


def format_summary(summary: dict) -> str:
    """The summary as a person reads it at the end of `make run`."""
    lines = [f"Pipeline {summary['status']} in {summary['total_seconds']:.1f} s, runner: {summary.get('runner', '?')}"]
    for task, container in sorted(summary.get("images", {}).items()):
        lines.append(f"  {task:<10} image {container['image']} (id {container['image_id'][:19]})")
    if summary["error"]:
        lines.append(f"  failed step: {summary['failed_step']}\n  {summary['error']}")
    problems = {problem: rows for problem, rows in summary.get("data_quality", {}).items() if rows}
    if problems:
        lines.append("  data quality: " + ", ".join(f"{problem.replace('_', ' ')} {rows:,}" for problem, rows in problems.items()))
    if summary["rows"]:
        lines.append("  rows: " + ", ".join(f"{split} {count:,}" for split, count in summary["rows"].items()))
    width = max([10, *map(len, summary["steps"])])
    for step, seconds in summary["steps"].items():
        lines.append(f"  {step:<{width}} {seconds:8.1f} s")
    for name in sorted(summary["metrics"]):
        lines.append(f"  {name:<28} {summary['metrics'][name]:.4f}")
    if summary["blessed"] is not None:
        lines.append(f"  blessed: {summary['blessed']}")
    lines.append(f"  pushed to: {summary['pushed_to'] or 'nothing pushed'}")
    for step, uri in summary["reports"].items():
        lines.append(f"  report {step:<10} {os.path.relpath(uri) if uri else ''}")
    return "\n".join(lines)
