"""Load benchmark of `kubetfx serve`: latency percentiles and throughput of top-10 recommendations.

    python -m kubetfx.pipelines.recommender.serving.bench --serving-root build/serving [--requests 3000 --clients 4]

The server runs in a child process on loopback; this process is the load: `clients` threads,
each on one keep-alive connection, send v1 requests of one user each until `requests` have been
answered or `max_seconds` have passed, whichever comes first; then requests of `batch` users each
(`batch_requests` of them, within `max_seconds` again), as a caller scoring a page of users does. Latency is measured by the client,
round trip included. Users are drawn from the model's own features (v2 metadata): ids from a pool
of known-looking and unknown ones, other values random, so caches do not flatter the figures. A
model with a history list (the reference model's `recent_items`) gets `history` catalogue items
per user. With `explain`, both loads run again with `"explain": true` on every instance (each
answer then carries its reasons: one re-scoring per history item, see pipelines/recommender/explain.py).
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

from kubetfx.pipelines.recommender import names
from kubetfx.pipelines.recommender.serving import process


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    serve_args: tuple[str, ...]  # what tells `kubetfx serve` the model: --serving-root DIR or --model-dir DIR
    requests: int = 3000
    clients: int = 4
    k: int = 10
    warmup: int = 100
    max_seconds: float = 120.0  # per load (single-user, then batched)
    seed: int = 0
    batch: int = 64  # users per request of the batched load; 0: no batched load
    batch_requests: int = 300
    auth_token: str = ""  # when the server requires one (`--auth-token-file`)
    history: int = 10  # catalogue items per user in the model's history list, if it takes one
    explain: bool = False  # also measure both loads with explanations asked for


def run(config: BenchConfig) -> dict:
    """Starts the server, sends the load, stops the server; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="kubetfx-bench-") as scratch:
        with process.running(list(config.serve_args), os.path.join(scratch, "server.log")) as base_url:
            headers = {"Content-Type": "application/json"}
            if config.auth_token:
                headers["Authorization"] = f"Bearer {config.auth_token}"
            features = _features(base_url, headers)
            items = _some_items(base_url, headers, features, config) if _list_inputs(features) else []
            figures = {"clients": config.clients, "k": config.k, "cpus": os.cpu_count(), "batch": config.batch,
                       "history": config.history if items else 0}
            for explained in (False, True) if config.explain else (False,):
                suffix = "_explained" if explained else ""
                bodies = _bodies(features, config, 1, config.warmup + config.requests, items, explained)
                _load(base_url, bodies[:config.warmup], config.clients, config.max_seconds, headers)
                figures[f"single{suffix}"] = _load(base_url, bodies[config.warmup:], config.clients, config.max_seconds,
                                                   headers)
                if config.batch:
                    batched = _bodies(features, config, config.batch, config.batch_requests, items, explained)
                    load = _load(base_url, batched, config.clients, config.max_seconds, headers)
                    load["users_per_second"] = round(load["requests_per_second"] * config.batch, 1)
                    figures[f"batched{suffix}"] = load
            return figures


LIST = "LIST"  # a [batch, m] input: a list of item ids per user (the model's history list)


def _features(base_url: str, headers: dict) -> dict[str, str]:
    """The model's feature names and v2 datatypes (LIST for a list input), from KServe's model metadata route."""
    request = urllib.request.Request(f"{base_url}/v2/models/{names.SERVING_MODEL_NAME}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        inputs = json.load(response)["inputs"]
    return {tensor["name"]: LIST if len(tensor.get("shape", [])) == 2 else tensor["datatype"]
            for tensor in inputs if tensor["name"] != names.REQUEST_EXCLUDE}


def _list_inputs(features: dict[str, str]) -> list[str]:
    return [name for name, datatype in features.items() if datatype == LIST]


def _some_items(base_url: str, headers: dict, features: dict[str, str], config: BenchConfig) -> list[str]:
    """Catalogue items to fill history lists with: what the model recommends to a few users."""
    rng = random.Random(config.seed)
    instances = [{**{name: _value(rng, name, datatype) for name, datatype in features.items() if datatype != LIST},
                  names.REQUEST_K: max(config.k, config.history)} for _ in range(8)]
    request = urllib.request.Request(f"{base_url}/v1/models/{names.SERVING_MODEL_NAME}:predict", headers=headers,
                                     data=json.dumps({"instances": instances}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return sorted({item for prediction in json.load(response)["predictions"] for item in prediction["items"]})


def _bodies(features: dict[str, str], config: BenchConfig, users: int, count: int, items: list[str] = (),
            explained: bool = False) -> list[bytes]:
    rng = random.Random(config.seed + users)
    bodies = []
    for _ in range(count):
        instances = []
        for _ in range(users):
            instance = {name: _value(rng, name, datatype) for name, datatype in features.items() if datatype != LIST}
            if items:
                instance.update({name: rng.sample(items, min(config.history, len(items))) for name in _list_inputs(features)})
            instance[names.REQUEST_K] = config.k
            if explained:
                instance["explain"] = True
            instances.append(instance)
        bodies.append(json.dumps({"instances": instances}).encode())
    return bodies


def _value(rng: random.Random, name: str, datatype: str):
    if datatype == "BYTES":
        return str(rng.randint(1, 2000)) if name == names.USER_ID else rng.choice(["F", "M", "student", "other", "x"])
    if datatype.startswith("FP"):
        return rng.uniform(0.0, 100.0)
    return rng.randint(16, 80)


def _load(base_url: str, bodies: list[bytes], clients: int, max_seconds: float, headers: dict) -> dict:
    host = urllib.parse.urlsplit(base_url)
    path = f"/v1/models/{names.SERVING_MODEL_NAME}:predict"
    next_index = itertools.count()
    latencies, errors = [], []
    deadline = time.monotonic() + max_seconds

    def client():
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        while (index := next(next_index)) < len(bodies) and time.monotonic() < deadline:
            started = time.perf_counter()
            connection.request("POST", path, bodies[index], headers)
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


LOADS = ("single", "batched", "single_explained", "batched_explained")


def markdown(figures: dict) -> str:
    loads = [(str(figures["batch"]) if name.startswith("batched") else "1", "yes" if "explained" in name else "no",
              figures[name]) for name in LOADS if name in figures]
    history = f", {figures['history']} history items per user" if figures.get("history") else ""
    return "\n".join([
        f"Serving benchmark: top-{figures['k']} per user, {figures['clients']} clients, "
        f"{figures['cpus']} CPUs shared by server and load{history}",
        "",
        "| users per request | explanations | requests | errors | req/s | users/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {users} | {explained} | {load['requests']:,} | {load['errors']} | {load['requests_per_second']} "
          f"| {load.get('users_per_second', load['requests_per_second'])} | {load['p50_ms']} | {load['p95_ms']} "
          f"| {load['p99_ms']} |" for users, explained, load in loads],
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubetfx.pipelines.recommender.serving.bench", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--serving-root", help="serve the latest blessed model of this serving root")
    source.add_argument("--model-dir", help="serve this SavedModel folder")
    parser.add_argument("--requests", type=int, default=BenchConfig.requests)
    parser.add_argument("--clients", type=int, default=BenchConfig.clients)
    parser.add_argument("--max-seconds", type=float, default=BenchConfig.max_seconds, help="per load")
    parser.add_argument("--batch", type=int, default=BenchConfig.batch, help="users per batched request (0: none)")
    parser.add_argument("--batch-requests", type=int, default=BenchConfig.batch_requests)
    parser.add_argument("--auth-token-file", default="", help="the token the server requires, if any")
    parser.add_argument("--history", type=int, default=BenchConfig.history,
                        help="catalogue items per user in the model's history list, if it takes one")
    parser.add_argument("--explain", action="store_true", help="also measure both loads with explanations")
    parser.add_argument("--out", default="", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    serve_args = ("--serving-root", args.serving_root) if args.serving_root else ("--model-dir", args.model_dir)
    if args.auth_token_file:
        serve_args += ("--auth-token-file", args.auth_token_file)
    token = open(args.auth_token_file).read().strip() if args.auth_token_file else ""
    figures = run(BenchConfig(serve_args=serve_args, requests=args.requests, clients=args.clients,
                              max_seconds=args.max_seconds, batch=args.batch, batch_requests=args.batch_requests,
                              auth_token=token, history=args.history, explain=args.explain))
    print(markdown(figures))
    if args.out:
        with open(args.out, "w") as out:
            json.dump(figures, out, indent=2, sort_keys=True)
    loads = [figures[name] for name in LOADS if name in figures]
    return 0 if all(load["requests"] and not load["errors"] for load in loads) else 1


if __name__ == "__main__":
    raise SystemExit(main())
