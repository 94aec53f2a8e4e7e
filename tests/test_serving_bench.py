"""The serving benchmark: single-user and 64-user requests against a server on loopback, bounded in
count and time, with p50/p99 and requests per second for each; the figures' arithmetic."""
import contract_model
from kubetfx.pipelines.recommender.serving import bench


def test_single_and_batched_loads_are_measured_within_their_bounds(tmp_path):
    model_dir = contract_model.build(str(tmp_path / "model"), [f"item-{i}" for i in range(20)], top_k=10)
    token = "bench-token-0123456789abcdef"
    (tmp_path / "token").write_text(token)
    config = bench.BenchConfig(serve_args=("--model-dir", model_dir, "--auth-token-file", str(tmp_path / "token")),
                               requests=40, clients=2, warmup=5, batch=64, batch_requests=6, max_seconds=30,
                               auth_token=token)
    figures = bench.run(config)
    single, batched = figures["single"], figures["batched"]
    assert single["requests"] == 40 and batched["requests"] == 6 and single["errors"] == batched["errors"] == 0
    assert 0 < single["p50_ms"] <= single["p99_ms"] and batched["users_per_second"] == round(batched["requests_per_second"] * 64, 1)
    text = bench.markdown(figures)
    assert "| 1 | no | 40 | 0 |" in text and "| 64 | no | 6 | 0 |" in text


def test_the_figures_arithmetic():
    figures = bench._figures([0.001, 0.002, 0.003, 0.004], [], 2.0)
    assert figures["requests"] == 4 and figures["requests_per_second"] == 2.0
    assert figures["p50_ms"] == 3.0 and figures["p99_ms"] == 4.0


def test_a_load_stops_at_its_time_bound():
    import http.server
    import threading
    import time

    class Slow(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.05)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        figures = bench._load(f"http://127.0.0.1:{server.server_port}", [b"{}"] * 1000, 2, 0.5, {})
        assert time.monotonic() - started < 3 and 0 < figures["requests"] < 100 and figures["errors"] == 0
    finally:
        server.shutdown()


def test_a_model_with_a_history_list_is_measured_with_and_without_explanations(tmp_path):
    from test_explanations import _history_model

    model_dir = _history_model(str(tmp_path / "model"))
    config = bench.BenchConfig(serve_args=("--model-dir", model_dir), requests=20, clients=2, warmup=2, batch=8,
                               batch_requests=4, max_seconds=30, k=3, history=4, explain=True)
    figures = bench.run(config)
    assert figures["history"] == 4
    for name in bench.LOADS:
        assert figures[name]["requests"] and figures[name]["errors"] == 0, name
    text = bench.markdown(figures)
    assert "| 1 | yes | 20 | 0 |" in text and "| 8 | yes | 4 | 0 |" in text and "4 history items per user" in text


def test_kubetfx_bench_runs_the_serving_benchmark_on_the_model_its_smallest_size_pushed(tmp_path, monkeypatch, capsys):
    """The hook in `kubetfx bench` (what `make bench` runs): all four loads, bounded, printed and written."""
    from kubetfx import bench as pipeline_bench
    from kubetfx.components.common import fs, names
    from kubetfx.components.push import executor as push

    model_dir = contract_model.build(str(tmp_path / "model"), [f"item-{i}" for i in range(20)], top_k=10)
    fs.write_json(str(tmp_path / "blessing" / names.BLESSING_FILE), {"blessed": True, "gates": []})
    push.run(model_dir, str(tmp_path / "blessing"), str(tmp_path / "out" / "runs" / "1000" / "serving"),
             str(tmp_path / "push.md"), version="1")
    asked = []
    real_run = bench.run
    monkeypatch.setattr(bench, "run", lambda config: asked.append(config) or real_run(
        __import__("dataclasses").replace(config, requests=20, batch_requests=3, warmup=2)))
    figures = pipeline_bench.serving_bench(pipeline_bench.BenchConfig(sizes=(1000, 100_000)), tmp_path / "out")
    (config,) = asked
    assert config.serve_args == ("--serving-root", str(tmp_path / "out" / "runs" / "1000" / "serving"))
    assert config.explain and config.batch == 64 and config.max_seconds <= 30
    assert figures["single"]["requests"] == 20 and figures["batched"]["errors"] == 0
    printed = capsys.readouterr().out
    assert "| 1 | no |" in printed and "| 64 | yes |" in printed
    assert (tmp_path / "out" / "serving.md").read_text().strip() == printed.strip()
    assert pipeline_bench.serving_bench(pipeline_bench.BenchConfig(sizes=(5,)), tmp_path / "out") is None  # nothing pushed
