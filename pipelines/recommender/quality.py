"""The reference model's quality on MovieLens-100K, against most-popular, over several seeds.

    python -m kubetfx.pipelines.recommender.quality --seeds 0,1,2 [--module-file M] [--hp '{"epochs": 5}']

Each seed runs the pipeline's own executors in this process (ingest with the seed's per-user
75/25 random split, validate, transform, train with the seed, evaluate: top 10 over the whole
catalogue, train items removed) and prints the evaluator's figures for the model and for the
most-popular baseline of the same run, then their mean, beside the published figures for the
same protocol. MovieLens comes from the recbole wheel into `--data-cache` (never the repository).
"""
import argparse
import json
import os
import pathlib
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

METRICS = ("ndcg@10", "precision@10", "recall@10", "map@10")
REFERENCE_MODULE = "kubetfx.pipelines.recommender.module"
# nDCG@10 on this protocol, as issue 12 cites them (Microsoft Recommenders' MovieLens-100K table and EASE here).
PUBLISHED = {"SAR": 0.38, "BPR": 0.44, "LightGCN": 0.45, "BiVAE": 0.47, "EASE": 0.487}


def run_seed(data_dir: pathlib.Path, work: pathlib.Path, seed: int, module_file: str, hp: dict) -> dict:
    from kubetfx.components.common import fs, names
    from kubetfx.pipelines.recommender.components.evaluate import executor as evaluate
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest
    from kubetfx.components.train import executor as train
    from kubetfx.components.train.args import TrainArgs
    from kubetfx.components.transform import executor as transform
    from kubetfx.components.validate import executor as validate
    from kubetfx.pipelines.recommender import data

    files = [str(data_dir / f) for f in (data.INTERACTIONS_FILE, data.USERS_FILE, data.ITEMS_FILE)]
    ingest.run(*files, str(work / "examples"), str(work / "ingest.md"), seed=seed)
    validate.run(str(work / "examples"), str(work / "statistics"), str(work / "schema"), str(work / "validate.html"))
    transform.run(str(work / "examples"), str(work / "schema"), module_file, str(work / "graph"),
                  str(work / "transformed"), str(work / "transform.md"))
    figures = train.run(TrainArgs(str(work / "transformed"), str(work / "graph"), str(work / "schema"), module_file,
                                  str(work / "model"), str(work / "model_run"), str(work / "train.md"),
                                  train_steps=100_000, eval_steps=5, hyperparameters={"seed": seed, **hp}))
    evaluate.run(figures["serving_model_dir"], str(work / "examples"), str(work / "evaluation"), str(work / "blessing"),
                 str(work / "evaluate.html"), config=evaluate.EvaluateConfig(run_tfma=False))
    result = fs.read_json(str(work / "evaluation" / names.EVAL_RESULT_FILE))
    return {"seed": seed, "model": {m: result["candidate"][m] for m in METRICS},
            "most_popular": {m: result["baseline"][m] for m in METRICS},
            "train_seconds": figures["run_fn_seconds"]}


def table(rows: list[dict]) -> str:
    header = "| seed | recommender | " + " | ".join(METRICS) + " | train s |"
    lines = [header, "|" + " --- |" * (len(METRICS) + 3)]
    for row in rows:
        for who in ("model", "most_popular"):
            seconds = f"{row['train_seconds']:.1f}" if who == "model" else ""
            lines.append(f"| {row['seed']} | {who} | " + " | ".join(f"{row[who][m]:.4f}" for m in METRICS) + f" | {seconds} |")
    for who in ("model", "most_popular"):
        means = [sum(r[who][m] for r in rows) / len(rows) for m in METRICS]
        seconds = f"{sum(r['train_seconds'] for r in rows) / len(rows):.1f}" if who == "model" else ""
        lines.append(f"| mean | {who} | " + " | ".join(f"{v:.4f}" for v in means) + f" | {seconds} |")
    lines.append("")
    lines.append("Published nDCG@10 on this protocol: " + ", ".join(f"{k} {v}" for k, v in PUBLISHED.items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--data-cache", default="~/.cache/kubetfx")
    parser.add_argument("--module-file", default=REFERENCE_MODULE)
    parser.add_argument("--hp", default="{}", help="hyperparameter overrides, JSON")
    parser.add_argument("--work-dir", default="", help="where the steps write (default: a temporary folder)")
    parser.add_argument("--out", default="", help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    from kubetfx.pipelines.recommender import data

    data_dir = data.movielens_100k(args.data_cache)
    work = pathlib.Path(args.work_dir or tempfile.mkdtemp(prefix="kubetfx-quality-"))
    rows = []
    for seed in (int(s) for s in args.seeds.split(",") if s):
        rows.append(run_seed(data_dir, work / f"seed-{seed}", seed, args.module_file, json.loads(args.hp)))
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
