"""The churn data set and the TFX-style module's run through transform and train, shared by the tests
of the TFX-style module and of the generic evaluator (fixtures `churn` and `churn_trained` in conftest)."""
import pathlib

import numpy as np

from kubetfx.components.common import examples, names, schema

MODULE_FILE = str(pathlib.Path(__file__).with_name("tfx_style_module.py"))
TRAIN_ROWS, EVAL_ROWS = 400, 200
TRAIN_STEPS = 300  # 24 passes over train at the module's batch of 32
EVAL_STEPS = 7  # batches of 32: all 200 held-out rows
# Chance is the majority class's share of the held-out rows (checked below 0.65); the labels are
# drawn from a logistic model of the features whose own accuracy on these rows is 0.845 (the best
# any model can expect); the bar leaves room for what 400 training rows cannot pin down.
ACCURACY_BAR = 0.75


def churn_frame(rows: int, seed: int = 0):
    """Customers with a churn label that depends on support calls, plan, age and spend, with noise."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    monthly_spend = rng.lognormal(3.5, 0.5, rows).round(2)
    support_calls = rng.poisson(2.5, rows)
    plan = rng.choice(["basic", "standard", "premium"], rows)
    region = rng.choice(["north", "south", "east", "west"], rows)
    plan_effect = pd.Series(plan).map({"basic": 2.4, "standard": 0.0, "premium": -2.4}).to_numpy()
    logit = 2.0 * (support_calls - 2.5) - 0.08 * (age - 49) + plan_effect - 0.03 * (monthly_spend - 37)
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame({"age": age, "monthly_spend": monthly_spend, "support_calls": support_calls,
                         "plan": plan, "region": region, "churned": churned})


def make_churn(out: pathlib.Path) -> pathlib.Path:
    """The churn CSV as an ingest step would leave it: TFX's split examples (`Split-train/`,
    `Split-eval/`, gzipped tf.Examples) and a schema inferred by TFDV from train."""
    import pandas as pd
    import pyarrow as pa
    import tensorflow_data_validation as tfdv

    csv = out / "churn.csv"
    churn_frame(TRAIN_ROWS + EVAL_ROWS).to_csv(csv, index=False)
    frame = pd.read_csv(csv)
    splits = {names.TRAIN: frame.iloc[:TRAIN_ROWS], names.EVAL: frame.iloc[TRAIN_ROWS:]}
    for split, rows in splits.items():
        examples.write_split(pa.Table.from_pandas(rows, preserve_index=False), str(out / "examples"), split)
    inferred = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(splits[names.TRAIN]))
    schema.write(inferred, str(out / "schema" / names.SCHEMA_FILE))
    return out


def train_churn(churn: pathlib.Path) -> dict:
    """Transform then train with the TFX-style module file; the train figures."""
    from kubetfx.components.train import executor as train
    from kubetfx.components.train.args import TrainArgs
    from kubetfx.components.transform import executor as transform

    transform.run(str(churn / "examples"), str(churn / "schema"), MODULE_FILE, str(churn / "graph"),
                  str(churn / "transformed"), str(churn / "transform.md"))
    return train.run(TrainArgs(str(churn / "transformed"), str(churn / "graph"), str(churn / "schema"), MODULE_FILE,
                               str(churn / "model"), str(churn / "model_run"), str(churn / "train.md"), TRAIN_STEPS,
                               EVAL_STEPS))
