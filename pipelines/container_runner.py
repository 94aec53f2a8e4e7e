"""Runs each step of a local pipeline in its image's container, as a cluster would.

kfp.local's DockerRunner starts one container per task through the Docker API (Docker, or podman's
Docker-compatible socket). Two things are added around it here:

- the inputs the steps read or write outside the pipeline root (the data files, the serving root)
  are mounted at the same paths, since DockerRunner mounts the pipeline root only;
- the container is waited for and removed by us: kfp.local starts it with auto-removal, and when
  the engine has already removed it (podman answers that race with HTTP 500, not Docker's 404)
  it loses the exit status and assumes success. Here a failed step always fails the run.

Every container's image is recorded by the digest it was started from, for the run's summary.
The host's OpenBLAS tuning variables reach the containers as they reach processes on the host: where
a machine sets them because OpenBLAS misjudges its processor, a step without them ran train's export
5 times slower here (19 s against 4 s).
"""
import contextlib
import functools
import json
import os
import pathlib

RUNNER_NAME = "docker"
PASSED_ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def runner(environment: dict | None = None):
    """kfp.local's DockerRunner (the engine comes from DOCKER_HOST, as for the docker CLI); the
    containers get the `PASSED_ENVIRONMENT` variables of `environment` (default: this process's)."""
    from kfp import local

    source = os.environ if environment is None else environment
    passed = {name: source[name] for name in PASSED_ENVIRONMENT if name in source}
    return local.DockerRunner(environment=passed) if passed else local.DockerRunner()


@contextlib.contextmanager
def steps_in_containers(mounts: dict[str, str], record: dict):
    """While open, kfp.local's containers also mount `mounts` (host path → 'ro' or 'rw') and
    `record` gets, per task, the image reference, its image id and the exit status."""
    from kfp.local import docker_task_handler

    original = docker_task_handler.run_docker_container
    docker_task_handler.run_docker_container = functools.partial(_run_container, mounts=mounts, record=record)
    try:
        yield
    finally:
        docker_task_handler.run_docker_container = original


def mounts_for(arguments: dict, writable: tuple[str, ...] = ()) -> dict[str, str]:
    """The local paths among a run's string arguments: files' folders read-only, `writable`
    arguments' folders read-write (created first, since the container cannot create a mount point)."""
    mounts = {}
    for name, value in arguments.items():
        if not isinstance(value, str) or not value.startswith("/"):
            continue
        path = pathlib.Path(value)
        if name in writable:
            path.mkdir(parents=True, exist_ok=True)
            mounts[str(path)] = "rw"
        elif path.exists():
            folder = str(path if path.is_dir() else path.parent)
            mounts.setdefault(folder, "ro")
    return mounts


def _run_container(client, image: str, command: list[str], volumes: dict, *, mounts: dict, record: dict,
                   **run_args) -> int:
    import docker

    extra = {path: {"bind": path, "mode": mode} for path, mode in mounts.items()}
    container = _start(client, dict(image=image, command=command, detach=True, volumes={**extra, **volumes}, **run_args))
    try:
        for chunk in container.logs(stream=True, follow=True):
            print(chunk.decode(errors="replace"), end="")
        status = container.wait()["StatusCode"]
        record[_task_name(command)] = {"image": image, "image_id": container.attrs.get("Image", ""),
                                       "exit_code": status}
        return status
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)


def _start(client, run_args: dict, attempts: int = 3):
    """Starts a container; podman 4.3 now and then answers a start with HTTP 500 "write child: broken
    pipe" (seen in CI here) though a second start works: such a start is tried again."""
    import docker

    for attempt in range(1, attempts + 1):
        try:
            return client.containers.run(**run_args)
        except docker.errors.APIError as error:
            if attempt == attempts or error.status_code != 500 or "broken pipe" not in str(error):
                raise
            print(f"kubetfx: the container engine failed to start the step ({error}); trying again")


def _task_name(command: list[str]) -> str:
    """The task's name: the folder of the executor output its executor input names."""
    executor_input = json.loads(command[command.index("--executor_input") + 1])
    return pathlib.Path(executor_input["outputs"]["outputFile"]).parent.name
