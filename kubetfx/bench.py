"""`kubetfx bench`: how long each step takes, how cost grows with data, and how each step
compares with a plain baseline doing the same work without the suite, all in one run.

Ratios are suite speed over baseline speed (1.0: as fast as the baseline), because the
machines this runs on are shared and noisy: absolute seconds move, ratios much less.
"""
import dataclasses
import json
import math
import pathlib
import resource
import shutil
import statistics
import tempfile
import time

from kubetfx.components.common import examples, names, timing

REFERENCE_MODULE = "kubetfx.pipelines.recommender.module"
MULTI_PROCESS_ARGS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    sizes: tuple[int, ...] = (100_000, 1_000_000, 5_000_000)
    out_dir: str = "build/bench"
    seed: int = 0
    batch_size: int = 512  # the reference module's default
    baselines: bool = True
    # The baselines only up to this size: at 5M they would take about an hour on 2 cores
    # (model.evaluate alone scores 1.25M eval examples against 83k items).
    baselines_up_to: int = 1_000_000
    # Products in the catalogue; 0: the generator's default, one per 60 interactions, so that the
    # catalogue grows with the data (and with it the softmax and the whole-catalogue ranking).
    items: int = 0


def run(config: BenchConfig) -> dict:
    """Runs the pipeline and the baselines at every size; writes results.json, results.md and plots."""
    out = pathlib.Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {"sizes": {}, "baselines": {}}
    for size in sorted(config.sizes):
        timing.LOG.info("[bench] %s interactions", f"{size:,}")
        measured, outputs = _pipeline_at(size, config, out)
        results["sizes"][str(size)] = measured
        # Written after every pipeline and every set of baselines: a long run stopped part-way
        # keeps what it measured.
        _write(results, out)
        if config.baselines and size <= config.baselines_up_to:
            results["baselines"][str(size)] = _baselines(outputs, measured, config, out / "baselines" / str(size))
            _write(results, out)
    results["serving"] = serving_bench(config, out)  # the serving benchmark's hook (see serving_bench)
    return results


def _write(results: dict, out: pathlib.Path) -> None:
    results.update(_derived(results))
    (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (out / "results.md").write_text(markdown(results) + "\n" + "\n".join(f"![{name}]({name})" for name in _plots(results, out)) + "\n")
    (out / "results.html").write_text(html(results, _plot_names(results)))


def _pipeline_at(size: int, config: BenchConfig, out: pathlib.Path):
    from kubetfx.config import Images
    from kubetfx.pipelines import local_runner
    from kubetfx.pipelines.recommender import data, pipeline
    from kubetfx.pipelines.recommender.generator import GeneratorConfig, generate

    label = f"{size}-items-{config.items}" if config.items else str(size)
    data_dir = out / "data" / label
    generator = GeneratorConfig(interactions=size, items=config.items, seed=config.seed)
    if not (data_dir / data.INTERACTIONS_FILE).exists():
        generate(str(data_dir), generator)
    run_dir = out / "runs" / label
    shutil.rmtree(run_dir, ignore_errors=True)
    train_rows = int(size * 0.75)
    arguments = {
        "interactions_uri": str(data_dir / data.INTERACTIONS_FILE),
        "users_uri": str(data_dir / data.USERS_FILE),
        "items_uri": str(data_dir / data.ITEMS_FILE),
        "serving_root": str(run_dir / "serving"),
        "train_steps": max(1, train_rows // config.batch_size),  # one epoch: training grows with data
        "hyperparameters": {"epochs": 1, "batch_size": config.batch_size},
    }
    probe_before = machine_probe_s()
    summary = local_runner.run(pipeline.create_pipeline(Images(repo="local")), arguments, str(run_dir))
    probes = [probe_before, machine_probe_s()]
    if summary["status"] != "succeeded":
        raise RuntimeError(f"the pipeline failed at {size:,} interactions: {summary['error']}")
    steps_total = sum(summary["steps"].values())
    measured = {
        "steps": summary["steps"],
        "total_s": summary["total_seconds"],
        "framework_overhead_s": round(summary["total_seconds"] - steps_total, 3),
        "framework_overhead_fraction": round(1 - steps_total / summary["total_seconds"], 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "rows": summary["rows"],
        "train_steps": arguments["train_steps"],
        "catalogue_items": generator.n_items,
        "metrics": summary["metrics"],
        "machine_probe_s": probes,
    }
    return measured, local_runner.read_task_outputs(pathlib.Path(summary["run_root"]))


def machine_probe_s() -> float:
    """Seconds a fixed piece of work takes on one core (a Python loop, zlib, a matrix product: what
    the steps spend their time in), the best of three. Taken before and after each size, it shows
    whether the shared machine's speed changed during the run, and the growth exponents are also
    given with each size's time divided by its probe."""
    import zlib

    import numpy as np

    matrix = np.random.default_rng(0).random((300, 300), dtype=np.float32)
    text = bytes(range(256)) * 4096
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for value in range(1_000_000):
            total += value
        for _ in range(20):
            zlib.compress(text, 6)
            matrix @ matrix
        best = min(best, time.perf_counter() - start)
    return round(best, 4)


def _baselines(outputs: dict, measured: dict, config: BenchConfig, scratch: pathlib.Path) -> dict:
    shutil.rmtree(scratch, ignore_errors=True)
    examples_uri = outputs[names.TASK_INGEST]["examples"]["uri"]
    schema_uri = outputs[names.TASK_VALIDATE]["schema"]["uri"]
    graph_uri = outputs[names.TASK_TRANSFORM]["transform_graph"]["uri"]
    transformed_uri = outputs[names.TASK_TRANSFORM]["transformed_examples"]["uri"]
    model_uri = outputs[names.TASK_TRAIN]["model"]["uri"]
    transform_s = bare_transform(examples_uri, schema_uri, str(scratch / "transform"), [])
    transform_mp_s = bare_transform(examples_uri, schema_uri, str(scratch / "transform-mp"), MULTI_PROCESS_ARGS)
    train_rows = measured["train_steps"] * config.batch_size
    suite_train_eps = train_rows / measured["steps"][names.TASK_TRAIN]
    model = outputs[names.TASK_TRAIN]["model"]
    loop_eps = model["trained_steps"] * config.batch_size / model["training_loop_seconds"]
    return {
        "transform_s": transform_s,
        "transform_multi_process_s": transform_mp_s,
        "train_examples_per_s": in_memory_training(transformed_uri, graph_uri, config.batch_size),
        "suite_train_examples_per_s": round(suite_train_eps, 1),
        "suite_training_loop_examples_per_s": round(loop_eps, 1),
        "model_evaluate_s": keras_evaluate(transformed_uri, graph_uri, model_uri, config.batch_size),
    }


def bare_transform(examples_uri: str, schema_uri: str, out_dir: str, beam_args: list[str]) -> float:
    """The plain tf.Transform script the transform step is measured against: same data, same
    preprocessing_fn, same outputs, no suite around it."""
    import apache_beam as beam
    import tensorflow_transform.beam as tft_beam
    from kubetfx.components.common import beam_options
    from tfx_bsl.coders import example_coder
    from tfx_bsl.public import tfxio

    from kubetfx.components.common import schema as schema_io
    from kubetfx.pipelines.recommender.module import preprocessing_fn

    raw_schema = schema_io.read(f"{schema_uri}/{names.SCHEMA_FILE}")
    start = time.perf_counter()
    with beam.Pipeline(options=beam_options.pipeline_options(beam_args)) as pipeline, tft_beam.Context(temp_dir=tempfile.mkdtemp()):
        sources = {s: tfxio.TFExampleRecord(examples.split_pattern(examples_uri, s), schema=raw_schema) for s in names.SPLITS}
        train = pipeline | "ReadTrain" >> sources[names.TRAIN].BeamSource()
        (train_out, _), transform_fn = ((train, sources[names.TRAIN].TensorAdapterConfig())
                                        | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn, output_record_batches=True))
        evaluation = pipeline | "ReadEval" >> sources[names.EVAL].BeamSource()
        eval_out, _ = (((evaluation, sources[names.EVAL].TensorAdapterConfig()), transform_fn)
                       | tft_beam.TransformDataset(output_record_batches=True))
        _ = transform_fn | tft_beam.WriteTransformFn(f"{out_dir}/graph")
        for split, batches in ((names.TRAIN, train_out), (names.EVAL, eval_out)):
            _ = (batches | f"Encode{split}" >> beam.FlatMap(lambda b: example_coder.RecordBatchToExamples(b[0]))
                 | f"Write{split}" >> beam.io.WriteToTFRecord(f"{out_dir}/{split}/data", file_name_suffix=".gz"))
    return round(time.perf_counter() - start, 3)


def _transformed_columns(transformed_uri: str, split: str, output) -> dict:
    """A transformed split's training columns in memory, read by the module's own `read_columns`
    through TFX's DataAccessor, as its run_fn reads the train split."""
    import types

    from kubetfx.components.train import fn_args
    from kubetfx.pipelines.recommender import module

    reader = types.SimpleNamespace(data_accessor=fn_args.data_accessor(transformed_uri))
    return module.read_columns(reader, [examples.split_pattern(transformed_uri, split)], output,
                               module.train_column_names(output))


def _in_memory_model(transformed_uri: str, graph_uri: str, hyperparameters: dict):
    """The reference module's model built as its run_fn builds it, its tables from the train
    split: (model, the transform output, the train columns)."""
    import tensorflow_transform as tft

    from kubetfx.pipelines.recommender import module

    output = tft.TFTransformOutput(graph_uri)
    hp = module.hyperparameters(hyperparameters)
    train = _transformed_columns(transformed_uri, names.TRAIN, output)
    # One epoch, as the suite's train step runs it here (its learning-rate schedule over those steps).
    steps = len(train[module.ITEM_ID]) // hp["batch_size"]
    model = module.build_model(output, hp, module.build_tables(train, output, hp), total_steps=steps)
    return model, output, train


def in_memory_training(transformed_uri: str, graph_uri: str, batch_size: int) -> float:
    """Examples per second of the same Keras model fed from in-memory tensors: the ceiling."""
    from kubetfx.pipelines.recommender import module

    model, output, train = _in_memory_model(transformed_uri, graph_uri, {"batch_size": batch_size, "epochs": 1})
    features, labels = module.model_inputs(train, output)
    model.fit(features, labels, batch_size=batch_size, epochs=1, steps_per_epoch=2, verbose=0)  # build and trace
    start = time.perf_counter()
    model.fit(features, labels, batch_size=batch_size, epochs=1, verbose=0)
    return round(len(labels) / (time.perf_counter() - start), 1)


def keras_evaluate(transformed_uri: str, graph_uri: str, model_uri: str, batch_size: int) -> float:
    """Seconds `model.evaluate` takes over the same eval examples the evaluate step scores: the
    module's Keras model with the exported model's trained weights, its loss and top-10 accuracy
    over the whole catalogue."""
    import tensorflow as tf

    from kubetfx.pipelines.recommender import module

    model, output, _ = _in_memory_model(transformed_uri, graph_uri, {})
    # The SavedModel's root holds the Keras model as `model`: its variables restore by that path.
    status = tf.train.Checkpoint(model=model).read(f"{model_uri}/{names.SERVING_MODEL_SUBDIR}/variables/variables")
    status.expect_partial().assert_existing_objects_matched()
    evaluation = _transformed_columns(transformed_uri, names.EVAL, output)
    features, labels = module.model_inputs(evaluation, output)
    start = time.perf_counter()
    model.evaluate(features, labels, batch_size=batch_size, verbose=0)
    return round(time.perf_counter() - start, 3)


def evaluate_bench(eval_sizes: tuple[int, ...], out_dir: str, seed: int = 0, train_steps: int = 300) -> dict:
    """The evaluate step against `model.evaluate` over the same eval examples, per eval size.

    Each size gets its own generated data (four interactions per eval example, as the 75/25
    split gives) run through ingest, validate, transform and a short training in this process.
    """
    from kubetfx.pipelines.recommender.components.evaluate import executor as evaluate
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest
    from kubetfx.components.train import executor as train
    from kubetfx.components.train.args import TrainArgs
    from kubetfx.components.transform import executor as transform
    from kubetfx.components.validate import executor as validate
    from kubetfx.pipelines.recommender import data
    from kubetfx.pipelines.recommender.generator import GeneratorConfig, generate

    results = {}
    for size in eval_sizes:
        work = pathlib.Path(out_dir) / "evaluate" / str(size)
        shutil.rmtree(work, ignore_errors=True)
        generate(str(work / "data"), GeneratorConfig(interactions=size * 4, seed=seed))
        files = [str(work / "data" / f) for f in (data.INTERACTIONS_FILE, data.USERS_FILE, data.ITEMS_FILE)]
        ingest.run(*files, str(work / "examples"), str(work / "ingest.md"))
        validate.run(str(work / "examples"), str(work / "statistics"), str(work / "schema"), str(work / "validate.html"))
        transform.run(str(work / "examples"), str(work / "schema"), REFERENCE_MODULE, str(work / "graph"),
                      str(work / "transformed"), str(work / "transform.md"))
        train.run(TrainArgs(str(work / "transformed"), str(work / "graph"), str(work / "schema"), REFERENCE_MODULE,
                            str(work / "model"), str(work / "model_run"), str(work / "train.md"), train_steps, 1,
                            {"epochs": 1}))
        step = evaluate.run(train.serving_model_dir(str(work / "model")), str(work / "examples"), str(work / "evaluation"),
                            str(work / "blessing"), str(work / "evaluate.html"))
        keras_s = keras_evaluate(str(work / "transformed"), str(work / "graph"), str(work / "model"), 1024)
        eval_rows = examples.read_split(str(work / "examples"), names.EVAL).num_rows
        results[str(size)] = {"eval_examples": eval_rows, "evaluate_step_s": step[names.META_WALL_SECONDS],
                              "model_evaluate_s": keras_s, "ratio": round(step[names.META_WALL_SECONDS] / keras_s, 2)}
        timing.LOG.info("[bench] evaluate at %s eval examples: %s", f"{eval_rows:,}", results[str(size)])
    return results


def _derived(results: dict) -> dict:
    sizes = sorted(int(s) for s in results["sizes"])
    exponents, normalized = {}, {}
    for small, large in zip(sizes, sizes[1:]):
        at_small, at_large = results["sizes"][str(small)], results["sizes"][str(large)]
        exponents[f"{small}->{large}"] = _exponent(at_small["total_s"], at_large["total_s"], small, large)
        if at_small.get("machine_probe_s") and at_large.get("machine_probe_s"):
            normalized[f"{small}->{large}"] = _exponent(at_small["total_s"] / statistics.fmean(at_small["machine_probe_s"]),
                                                        at_large["total_s"] / statistics.fmean(at_large["machine_probe_s"]),
                                                        small, large)
    step_exponents = {}
    if len(sizes) > 1:  # each step's, between the two largest sizes: which step grows faster than the data
        small, large = (results["sizes"][str(n)]["steps"] for n in sizes[-2:])
        step_exponents = {step: _exponent(small[step], large[step], sizes[-2], sizes[-1])
                          for step in names.STEPS if small.get(step) and large.get(step)}
    reference = str(1_000_000 if 1_000_000 in sizes else sizes[-1])
    derived = {
        "growth_exponents": exponents,
        "growth_exponent": list(exponents.values())[-1] if exponents else None,
        "growth_exponents_per_machine_speed": normalized,
        "step_growth_exponents": step_exponents,
        "framework_overhead_fraction": results["sizes"][reference]["framework_overhead_fraction"],
        "reference_size": int(reference),
    }
    if results["baselines"]:
        derived["ratios_by_size"] = {size: _ratios(results["sizes"][size], base) for size, base in results["baselines"].items()}
    if reference in derived.get("ratios_by_size", {}):
        derived["ratios"] = derived["ratios_by_size"][reference]
    return derived


def _exponent(small_s: float, large_s: float, small_size: int, large_size: int) -> float:
    """e in time ∝ size^e between two sizes (1.0: linear)."""
    return round(math.log(large_s / small_s) / math.log(large_size / small_size), 3)


def _ratios(measured: dict, baseline: dict) -> dict:
    steps = measured["steps"]
    return {
        "transform": round(baseline["transform_s"] / steps[names.TASK_TRANSFORM], 3),
        "train": round(baseline["suite_train_examples_per_s"] / baseline["train_examples_per_s"], 3),
        "training_loop": round(baseline["suite_training_loop_examples_per_s"] / baseline["train_examples_per_s"], 3),
        "evaluate": round(baseline["model_evaluate_s"] / steps[names.TASK_EVALUATE], 3),
        "transform_multi_process_vs_default": round(baseline["transform_s"] / baseline["transform_multi_process_s"], 3),
    }


def markdown(results: dict) -> str:
    """The results as tables for a person (and for the project's notes)."""
    sizes = sorted(results["sizes"], key=int)
    header = "| step | " + " | ".join(f"{int(s):,}" for s in sizes) + " |\n|---|" + "---|" * len(sizes) + "\n"
    rows = []
    for step in names.STEPS:
        rows.append(f"| {step} | " + " | ".join(_seconds(results["sizes"][s]["steps"].get(step)) for s in sizes) + " |")
    for key, label, fmt in (("catalogue_items", "catalogue (items)", "{:,}"),
                            ("framework_overhead_s", "framework overhead", "{:.1f} s"), ("total_s", "**total**", "{:.1f} s"),
                            ("framework_overhead_fraction", "overhead fraction", "{:.1%}"), ("peak_rss_mb", "peak RSS", "{:.0f} MB")):
        rows.append(f"| {label} | " + " | ".join(fmt.format(results["sizes"][s][key]) for s in sizes) + " |")
    if all(results["sizes"][s].get("machine_probe_s") for s in sizes):
        rows.append("| machine probe before / after | " + " | ".join(
            "{:.2f} / {:.2f} s".format(*results["sizes"][s]["machine_probe_s"]) for s in sizes) + " |")
    text = "# kubetfx bench\n\nWall time per step (interactions across)\n\n" + header + "\n".join(rows) + "\n"
    text += "\nGrowth exponents of total time (1.0 = linear): " + json.dumps(results["growth_exponents"]) + "\n"
    if results.get("growth_exponents_per_machine_speed"):
        text += ("The same, each total divided by its machine probe (a shared machine's speed changes): "
                 + json.dumps(results["growth_exponents_per_machine_speed"]) + "\n")
    if results.get("step_growth_exponents"):
        text += "Per step, between the two largest sizes: " + json.dumps(results["step_growth_exponents"]) + "\n"
    if "ratios_by_size" in results:
        text += ("\nSuite speed over plain-baseline speed (1.0 = as fast; train: the whole step against the in-memory "
                 "`model.fit`, training loop: run_fn's `model.fit` alone against it)\n\n"
                 "| size | transform | train | training loop | evaluate | transform multi-process vs default |\n"
                 "|---|---|---|---|---|---|\n")
        for size, ratio in sorted(results["ratios_by_size"].items(), key=lambda kv: int(kv[0])):
            text += (f"| {int(size):,} | {ratio['transform']:.2f} | {ratio['train']:.2f} | {ratio['training_loop']:.2f} | "
                     f"{ratio['evaluate']:.2f} | {ratio['transform_multi_process_vs_default']:.2f} |\n")
    return text


def _seconds(value: float | None) -> str:
    # A step that did not run (push, when the model was not blessed) is no 0.0 s.
    return "not run" if value is None else f"{value:.1f} s"


def _plot_names(results: dict) -> list[str]:
    return ["steps_by_size.png", "steps.png"] + (["ratios.png"] if "ratios_by_size" in results else [])


def _plots(results: dict, out: pathlib.Path) -> list[str]:
    """Writes the plots; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results["sizes"], key=int)
    _growth_plot(plt, results, sizes, out / "steps_by_size.png")
    figure, axis = plt.subplots(figsize=(7, 4))
    bottom = [0.0] * len(sizes)
    for step in (*names.STEPS, "framework"):
        heights = [results["sizes"][s]["steps"].get(step, 0) if step != "framework" else results["sizes"][s]["framework_overhead_s"] for s in sizes]
        axis.bar([f"{int(s):,}" for s in sizes], heights, bottom=bottom, label=step)
        bottom = [b + h for b, h in zip(bottom, heights)]
    axis.set_xlabel("interactions")
    axis.set_ylabel("seconds")
    axis.set_title("kubetfx pipeline wall time per step")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "steps.png", dpi=110)
    plt.close(figure)
    if "ratios_by_size" in results:
        figure, axis = plt.subplots(figsize=(7, 4))
        kinds = ("transform", "train", "training_loop", "evaluate")
        compared = sorted(results["ratios_by_size"], key=int)
        width = 0.8 / len(compared)
        for index, size in enumerate(compared):
            ratio = results["ratios_by_size"][size]
            axis.bar([k + index * width for k in range(len(kinds))], [ratio[k] for k in kinds], width, label=f"{int(size):,}")
        axis.axhline(1.0, color="grey", linestyle="--")
        axis.set_xticks([k + width * (len(compared) - 1) / 2 for k in range(len(kinds))], kinds)
        axis.set_ylabel("suite speed / baseline speed")
        axis.legend(title="interactions", fontsize=8)
        figure.tight_layout()
        figure.savefig(out / "ratios.png", dpi=110)
        plt.close(figure)
    return _plot_names(results)


def _growth_plot(plt, results: dict, sizes: list[str], path: pathlib.Path) -> None:
    """Seconds per step against interactions, both axes logarithmic, with a line of slope 1 (time
    proportional to the data) through the total's smallest size to read growth exponents against."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    x = [int(s) for s in sizes]
    for step in names.STEPS:
        points = [(n, results["sizes"][s]["steps"][step]) for n, s in zip(x, sizes) if results["sizes"][s]["steps"].get(step)]
        if points:
            axis.plot(*zip(*points), marker="o", label=step)
    totals = [results["sizes"][s]["total_s"] for s in sizes]
    axis.plot(x, totals, marker="s", color="black", linewidth=2, label="total")
    axis.plot(x, [totals[0] * n / x[0] for n in x], color="grey", linestyle="--", label="∝ size (exponent 1)")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("interactions")
    axis.set_ylabel("seconds")
    axis.set_title("kubetfx bench: time per step against size")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def html(results: dict, plots: list[str]) -> str:
    """The Markdown report's tables and the plots as one page a browser opens."""
    import html as escape

    return ("<!doctype html><meta charset='utf-8'><title>kubetfx bench</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}</style>\n"
            f"<pre>{escape.escape(markdown(results))}</pre>\n"
            + "\n".join(f"<p><img src='{name}' alt='{name}'></p>" for name in plots) + "\n")


# --- serving: a separate benchmark hooked into `kubetfx bench` (pipelines/recommender/serving/bench.py) ---------

def serving_bench(config: BenchConfig, out: pathlib.Path) -> dict | None:
    """`kubetfx serve` under load, on the model the smallest size's pipeline pushed: p50/p99 and
    requests per second of single-user and 64-user requests, with and without explanations.
    Bounded (at most 30 s per load, four loads); printed, and written to serving.json / serving.md."""
    from kubetfx.pipelines.recommender.serving import bench as serving

    size = min(config.sizes)
    roots = [out / "runs" / label / "serving" for label in (f"{size}-items-{config.items}", str(size))]
    root = next((r for r in roots if (r / names.LATEST_POINTER).exists()), None)
    if root is None:
        timing.LOG.warning("[bench] no pushed model under %s: the serving benchmark is skipped", out / "runs")
        return None
    figures = serving.run(serving.BenchConfig(serve_args=("--serving-root", str(root)), requests=2000,
                                              batch_requests=100, max_seconds=30.0, explain=True))
    text = serving.markdown(figures)
    (out / "serving.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    (out / "serving.md").write_text(text + "\n")
    print(text, flush=True)
    return figures
