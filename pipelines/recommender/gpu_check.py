"""`make gpu-check`: trains the reference model on the CPU, on one GPU and on all GPUs of this
machine, and prints examples per second of each and the speed-up over the CPU.

Where TensorFlow finds no GPU (no device, no driver, or a TensorFlow built without CUDA), it says
so and trains nothing. Each set-up is a worker process whose `CUDA_VISIBLE_DEVICES` picks its GPUs.
"""
import argparse
import os
import pathlib

from kubetfx.components.common import timing
from kubetfx.pipelines.recommender import train_bench


def visible_gpus() -> int:
    """How many GPUs TensorFlow sees in this process."""
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def setups(gpus: int) -> dict[str, str | None]:
    """Name → CUDA_VISIBLE_DEVICES of each set-up to measure (None: leave as it is, every GPU)."""
    chosen = {"CPU": "", "1 GPU": "0"}
    if gpus > 1:
        chosen[f"{gpus} GPUs (MirroredStrategy)"] = None
    return chosen


def run(out: pathlib.Path, config: train_bench.ThroughputConfig, gpus: int) -> dict[str, dict]:
    """Measures every set-up on the same inputs; returns their figures by name."""
    with timing.stage("gpu-check", f"ingest, validate and transform {config.interactions:,} interactions"):
        inputs = train_bench.prepare(out / "inputs", config.interactions)
    results = {}
    for index, (name, devices) in enumerate(setups(gpus).items()):
        environ = dict(os.environ)
        if devices is not None:
            environ["CUDA_VISIBLE_DEVICES"] = devices
        with timing.stage("gpu-check", name):
            results[name] = train_bench.measure(inputs, out / f"setup-{index}", 1, config, environ)
    return results


def markdown(results: dict[str, dict]) -> str:
    cpu = results["CPU"]["examples_per_second"]
    lines = ["| set-up | replicas | examples/s | speed-up over CPU |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['replicas']} | {r['examples_per_second']:,.0f} | {r['examples_per_second'] / cpu:.2f}x |"
              for name, r in results.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    default = train_bench.ThroughputConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/gpu-check")
    parser.add_argument("--interactions", type=int, default=default.interactions)
    parser.add_argument("--steps-per-epoch", type=int, default=1000)
    args = parser.parse_args(argv)
    gpus = visible_gpus()
    if not gpus:
        print("gpu-check: no GPU found: TensorFlow sees no GPU on this machine (no device, no NVIDIA driver, "
              "or a TensorFlow without CUDA); nothing was trained.")
        return 0
    config = train_bench.ThroughputConfig(interactions=args.interactions, steps_per_epoch=args.steps_per_epoch)
    print(markdown(run(pathlib.Path(args.out), config, gpus)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
