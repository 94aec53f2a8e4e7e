"""A training cluster on one machine: one worker process per task, `TF_CONFIG` naming localhost
ports, as the Kubeflow Training Operator would name pods. For tests, benchmarks and the GPU check."""
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

from kubetfx.components.common import names
from kubetfx.components.train import strategy, worker
from kubetfx.components.train.args import TrainArgs


def free_ports(count: int) -> list[int]:
    """Ports free on localhost now (the OS picks them; held open together so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_configs(workers: int) -> list[str]:
    """`TF_CONFIG` of each task of a localhost cluster: the chief first, then the workers."""
    addresses = [f"localhost:{port}" for port in free_ports(workers)]
    cluster = {strategy.CHIEF: addresses[:1], strategy.WORKER: addresses[1:]}
    tasks = [(strategy.CHIEF, 0)] + [(strategy.WORKER, index) for index in range(workers - 1)]
    return [json.dumps({"cluster": cluster, "task": {"type": role, "index": index}}) for role, index in tasks]


def start_worker(args: TrainArgs, log_path: pathlib.Path, tf_config: str = "",
                 environ: dict | None = None) -> subprocess.Popen:
    """Starts one worker process of this interpreter, its output going to `log_path`."""
    env = dict(os.environ if environ is None else environ)
    env.pop(names.ENV_TF_CONFIG, None)
    if tf_config:
        env[names.ENV_TF_CONFIG] = tf_config
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", worker.__name__, *args.argv()], env=env,
                                stdout=log, stderr=subprocess.STDOUT)


def start_cluster(args: TrainArgs, workers: int, log_dir: pathlib.Path,
                  environ: dict | None = None) -> list[subprocess.Popen]:
    """Starts `workers` processes training together (one process, no cluster, when `workers` is 1)."""
    if workers == 1:
        return [start_worker(args, log_dir / "worker-0.log", environ=environ)]
    return [start_worker(args, log_dir / f"worker-{index}.log", tf_config, environ)
            for index, tf_config in enumerate(tf_configs(workers))]


def wait(processes: list[subprocess.Popen], log_dir: pathlib.Path, timeout: float) -> None:
    """Waits for every process; fails with the logs' last lines if one fails or runs past `timeout`."""
    deadline = time.monotonic() + timeout
    try:
        codes = [process.wait(timeout=max(0.0, deadline - time.monotonic())) for process in processes]
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
        codes = [process.wait() for process in processes]
    if any(codes):
        tails = "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                          for log in sorted(log_dir.glob("*.log")))
        raise RuntimeError(f"workers exited with {codes}:\n{tails}")
