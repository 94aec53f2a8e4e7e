"""Load benchmark of `kubetfx serve`: latency percentiles and throughput of top-10 recommendations.

    python -m kubetfx.serving.bench --serving-root build/serving [--requests 3000 --clients 4]

The server runs in a child process on loopback; this process is the load: `clients` threads,
each on one keep-alive connection, send v1 requests of one user each until `requests` have been
answered or `max_seconds` have passed, whichever comes first. Latency is measured by the client,
round trip included. Users are drawn from the model's own features (v2 metadata): ids from a pool
of known-looking and unknown ones, other values random, so caches do not flatter the figures.
"""
import argparse
import dataclasses
import http.client
import itertools
import json
import os
import random
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from kubetfx.components.common import names
from kubetfx.serving import process


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    serve_args: tuple[str, ...]  # what tells `kubetfx serve` the model: --serving-root DIR or --model-dir DIR
    requests: int = 3000
    clients: int = 4
    k: int = 10
    warmup: int = 100
    max_seconds: float = 120.0
    seed: int = 0


def run(config: BenchConfig) -> dict:
    """Starts the server, sends the load, stops the server; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="kubetfx-bench-") as scratch:
        with process.running(list(config.serve_args), os.path.join(scratch, "server.log")) as base_url:
            features = _features(base_url)
            bodies = _bodies(features, config)
            _load(base_url, bodies[:config.warmup], config.clients, config.max_seconds)
            return _load(base_url, bodies[config.warmup:], config.clients, config.max_seconds) | {
                "clients": config.clients, "k": config.k, "cpus": os.cpu_count()}


def _features(base_url: str) -> dict[str, str]:
    """The model's feature names and v2 datatypes, from KServe's model metadata route."""
    with urllib.request.urlopen(f"{base_url}/v2/models/{names.SERVING_MODEL_NAME}", timeout=10) as response:
        inputs = json.load(response)["inputs"]
    return {tensor["name"]: tensor["datatype"] for tensor in inputs if tensor["name"] != names.REQUEST_EXCLUDE}


def _bodies(features: dict[str, str], config: BenchConfig) -> list[bytes]:
    rng = random.Random(config.seed)
    bodies = []
    for _ in range(config.warmup + config.requests):
        instance = {name: _value(rng, name, datatype) for name, datatype in features.items()}
        bodies.append(json.dumps({"instances": [{**instance, names.REQUEST_K: config.k}]}).encode())
    return bodies


def _value(rng: random.Random, name: str, datatype: str):
    if datatype == "BYTES":
        return str(rng.randint(1, 2000)) if name == names.USER_ID else rng.choice(["F", "M", "student", "other", "x"])
    if datatype.startswith("FP"):
        return rng.uniform(0.0, 100.0)
    return rng.randint(16, 80)


def _load(base_url: str, bodies: list[bytes], clients: int, max_seconds: float) -> dict:
    host = urllib.parse.urlsplit(base_url)
    path = f"/v1/models/{names.SERVING_MODEL_NAME}:predict"
    next_index = itertools.count()
    latencies, errors = [], []
    deadline = time.monotonic() + max_seconds

    def client():
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        while (index := next(next_index)) < len(bodies) and time.monotonic() < deadline:
            started = time.perf_counter()
            connection.request("POST", path, bodies[index], {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)  # list.append is atomic under the GIL
            if response.status != 200:
                errors.append(response.status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _figures(latencies, errors, time.perf_counter() - started)


def _figures(latencies: list[float], errors: list[int], seconds: float) -> dict:
    ordered = sorted(latencies)

    def percentile(share: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2) if ordered else float("nan")

    return {"requests": len(ordered), "errors": len(errors), "seconds": round(seconds, 2),
            "requests_per_second": round(len(ordered) / seconds, 1) if seconds else 0.0,
            "p50_ms": percentile(0.50), "p95_ms": percentile(0.95), "p99_ms": percentile(0.99),
            "mean_ms": round(1000 * sum(ordered) / len(ordered), 2) if ordered else float("nan")}


def markdown(figures: dict) -> str:
    return "\n".join([
        f"Serving benchmark: top-{figures['k']} for one user per request, {figures['clients']} clients, "
        f"{figures['cpus']} CPUs shared by server and load",
        "",
        "| requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|",
        f"| {figures['requests']:,} | {figures['errors']} | {figures['requests_per_second']} | {figures['p50_ms']} "
        f"| {figures['p95_ms']} | {figures['p99_ms']} |",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubetfx.serving.bench", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--serving-root", help="serve the latest blessed model of this serving root")
    source.add_argument("--model-dir", help="serve this SavedModel folder")
    parser.add_argument("--requests", type=int, default=BenchConfig.requests)
    parser.add_argument("--clients", type=int, default=BenchConfig.clients)
    parser.add_argument("--max-seconds", type=float, default=BenchConfig.max_seconds)
    parser.add_argument("--out", default="", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    serve_args = ("--serving-root", args.serving_root) if args.serving_root else ("--model-dir", args.model_dir)
    figures = run(BenchConfig(serve_args=serve_args, requests=args.requests, clients=args.clients,
                              max_seconds=args.max_seconds))
    print(markdown(figures))
    if args.out:
        with open(args.out, "w") as out:
            json.dump(figures, out, indent=2, sort_keys=True)
    return 0 if figures["requests"] and not figures["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
