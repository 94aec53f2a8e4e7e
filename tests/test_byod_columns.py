"""Bring your own data: the reference model uses whatever user and item columns the tables have.

The data here plants its signal in columns MovieLens does not have: each user belongs to a
`segment`, each segment buys mostly one `brand`, and users have two train interactions each, too
few for the history alone to tell the brand. Beside them sit columns the model must set aside,
each for its own reason, and columns that carry nothing but are usable (a price, tags)."""
import re

import numpy as np
import pandas as pd
import pytest

from kubetfx.components.common import fs
from kubetfx.pipelines.recommender import names

REFERENCE_MODULE = "kubetfx.pipelines.recommender.module"
SEGMENTS = 8
# nDCG@10 of the model with the brand and segment columns over the same model without them, and
# over most-popular (relative margins; measured here: 0.251 with, 0.142 without, 0.073 most-popular).
MARGIN_OVER_WITHOUT = 0.25
MARGIN_OVER_MOST_POPULAR = 1.0
# Each column of the tables, and what the columns report must say of it.
EXPECTED = {
    "segment": "used as a category",
    "income": "used as a number",
    "nickname": "not used: an id more than a category",
    "region": "not used: the same value in every train row",
    "note": "not used: empty in every train row",
    "brand": "used as a category",
    "price": "used as a number",
    "tags": "used as a list of categories",
    "description": "not used: free text",
    "rating": "not used: varies between one user's interactions",
}


def _tables(folder, seed: int = 0, users: int = 600, items: int = 240):
    rng = np.random.default_rng(seed)
    segment = rng.integers(0, SEGMENTS, size=users)
    brand = np.arange(items) % SEGMENTS
    popularity = 1.0 / (1 + np.arange(items) // SEGMENTS) ** 0.7  # long-tailed within each brand
    rows = []
    for user in range(users):
        weights = popularity * np.where(brand == segment[user], 40.0, 1.0)
        for position, item in enumerate(rng.choice(items, size=3, replace=False, p=weights / weights.sum())):
            rows.append((f"u{user}", f"i{item}", int(rng.integers(1, 6)), 1_000_000 + user * 10 + position))
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"]).to_csv(folder / "interactions.csv", index=False)
    pd.DataFrame({
        "user_id": [f"u{u}" for u in range(users)],
        "segment": [f"segment-{s}" for s in segment],
        "income": rng.normal(50_000, 15_000, size=users).round(),
        "nickname": [f"nick{u}" for u in range(users)],
        "region": "EU",
        "note": np.nan,
    }).to_csv(folder / "users.csv", index=False)
    pd.DataFrame({
        "item_id": [f"i{i}" for i in range(items)],
        "brand": [f"brand-{b}" for b in brand],
        "price": rng.lognormal(3, 1, size=items).round(2),
        "tags": ["|".join(f"tag{t}" for t in rng.choice(12, size=rng.integers(1, 4), replace=False)) for _ in range(items)],
        "description": [f"A fine product, number {i}, described at a length no category ever has" for i in range(items)],
    }).to_csv(folder / "items.csv", index=False)
    return folder


def _pipeline(data_dir, work, drop: tuple[str, ...] = ()) -> tuple[dict, str]:
    """Ingest → validate → transform → train → evaluate on the tables without the `drop` columns:
    (the evaluation's result, the columns report)."""
    from kubetfx.components.train import executor as train
    from kubetfx.components.train.args import TrainArgs
    from kubetfx.components.transform import executor as transform
    from kubetfx.components.validate import executor as validate
    from kubetfx.pipelines.recommender import module
    from kubetfx.pipelines.recommender.components.evaluate import executor as evaluate
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest

    files = []
    for name in ("interactions.csv", "users.csv", "items.csv"):
        frame = pd.read_csv(data_dir / name)
        work.mkdir(parents=True, exist_ok=True)
        frame.drop(columns=[c for c in drop if c in frame.columns]).to_csv(work / name, index=False)
        files.append(str(work / name))
    ingest.run(*files, str(work / "examples"), str(work / "ingest.md"), list_columns=("tags",))
    validate.run(str(work / "examples"), str(work / "statistics"), str(work / "schema"), str(work / "validate.html"))
    transform.run(str(work / "examples"), str(work / "schema"), REFERENCE_MODULE, str(work / "graph"),
                  str(work / "transformed"), str(work / "transform.md"))
    figures = train.run(TrainArgs(str(work / "transformed"), str(work / "graph"), str(work / "schema"), REFERENCE_MODULE,
                                  str(work / "model"), str(work / "model_run"), str(work / "train.md"),
                                  train_steps=400, eval_steps=2, hyperparameters={"epochs": 20, "batch_size": 64}))
    evaluate.run(figures["serving_model_dir"], str(work / "examples"), str(work / "evaluation"), str(work / "blessing"),
                 str(work / "evaluate.html"), config=evaluate.EvaluateConfig(run_tfma=False))
    result = fs.read_json(str(work / "evaluation" / names.EVAL_RESULT_FILE))
    columns = fs.read_text(str(work / "model_run" / module.COLUMNS_REPORT))
    assert columns in fs.read_text(str(work / "train.md")), "the train step's report shows how each column is used"
    return result, columns


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("byod")
    data_dir = _tables(folder / "data")
    return _pipeline(data_dir, folder / "with"), _pipeline(data_dir, folder / "without", drop=("segment", "brand"))


def test_every_column_is_used_or_the_report_says_why_not(runs):
    (_, report), _ = runs
    print(report)
    described = {column: use for column, _, use in re.findall(r"^\| `(\w+)` \| (\S+) \| (.+) \|$", report, flags=re.M)}
    assert set(described) == set(EXPECTED), report
    for column, expected in EXPECTED.items():
        assert described[column].startswith(expected), (column, described[column])


def test_the_brand_and_segment_columns_carry_the_signal_into_the_model(runs):
    (with_columns, _), (without, report_without) = runs
    model, popular = with_columns["candidate"]["ndcg@10"], with_columns["baseline"]["ndcg@10"]
    blind = without["candidate"]["ndcg@10"]
    print(f"nDCG@10: with brand and segment {model:.4f}, without {blind:.4f}, most-popular {popular:.4f}")
    assert "`brand`" not in report_without and "`segment`" not in report_without
    assert model >= blind * (1 + MARGIN_OVER_WITHOUT), (model, blind)
    assert model >= popular * (1 + MARGIN_OVER_MOST_POPULAR), (model, popular)
