"""The reference pipeline's data: MovieLens-100K from the recbole wheel, or synthetic data with
the same schema (for tests and for trying the pipeline without downloading anything).

MovieLens may be used for research but not redistributed: it is fetched into a cache outside the
repository, never committed.
"""
import io
import pathlib
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd

RECBOLE_WHEEL = "recbole==1.2.1"
_ML100K = "recbole/dataset_example/ml-100k/ml-100k"
INTERACTIONS_FILE = "interactions.csv"
USERS_FILE = "users.csv"
ITEMS_FILE = "items.csv"
GENRES = ("Action", "Comedy", "Drama", "Romance", "Thriller", "Sci-Fi", "Children's", "Documentary")
OCCUPATIONS = ("student", "engineer", "artist", "doctor", "retired", "other")


def movielens_100k(cache_dir: str) -> pathlib.Path:
    """Returns a folder with MovieLens-100K as the three CSV files, fetching the wheel if needed."""
    target = pathlib.Path(cache_dir).expanduser() / "ml-100k"
    if (target / INTERACTIONS_FILE).exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    wheel = _download_wheel(target)
    with zipfile.ZipFile(wheel) as archive:
        atomic = {ext: _read_atomic(archive.read(f"{_ML100K}.{ext}")) for ext in ("inter", "user", "item")}
    atomic["item"] = atomic["item"].rename(columns={"movie_title": "title", "class": "genres"})
    atomic["item"]["genres"] = atomic["item"]["genres"].str.replace(" ", "|")
    atomic["user"].to_csv(target / USERS_FILE, index=False)
    atomic["item"].to_csv(target / ITEMS_FILE, index=False)
    # Written last: its presence marks a complete cache.
    atomic["inter"].to_csv(target / INTERACTIONS_FILE, index=False)
    wheel.unlink()
    return target


def _download_wheel(target: pathlib.Path) -> pathlib.Path:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(target), RECBOLE_WHEEL]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = list(target.glob("recbole-*.whl"))
    if result.returncode != 0 or not wheels:
        raise RuntimeError(
            f"could not fetch {RECBOLE_WHEEL} (MovieLens-100K ships inside it) from the package index: "
            f"{result.stderr.strip()[-500:]}\nPass your own data with --interactions/--users/--items instead."
        )
    return wheels[0]


def _read_atomic(raw: bytes) -> pd.DataFrame:
    """Reads a RecBole atomic file, whose header cells are `name:type`."""
    frame = pd.read_csv(io.BytesIO(raw), sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [column.split(":")[0] for column in frame.columns]
    for column in ("rating", "timestamp", "age", "release_year"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def synthetic(out_dir: str, users: int = 200, items: int = 120, interactions_per_user: int = 20, seed: int = 0) -> pathlib.Path:
    """Writes a small data set with MovieLens-100K's schema and a learnable signal.

    Each user prefers one genre, which their occupation reveals; most of their interactions come
    from it, weighted by a long-tailed item popularity, so a personalised model can beat
    most-popular from the user's features alone, without memorising each user id.
    """
    rng = np.random.default_rng(seed)
    target = pathlib.Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    item_genre = rng.integers(0, len(GENRES), size=items)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    user_taste = rng.integers(0, len(GENRES), size=users)
    rows = []
    for user in range(users):
        liked = item_genre == user_taste[user]
        weights = popularity * np.where(liked, 30.0, 1.0)
        chosen = rng.choice(items, size=min(interactions_per_user, items), replace=False, p=weights / weights.sum())
        for position, item in enumerate(chosen):
            rows.append((str(user + 1), str(item + 1), int(rng.integers(1, 6)), 880_000_000 + user * 1000 + position))
    pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"]).to_csv(target / INTERACTIONS_FILE, index=False)
    pd.DataFrame({
        "user_id": [str(u + 1) for u in range(users)],
        "age": rng.integers(15, 70, size=users),
        "gender": rng.choice(["M", "F"], size=users),
        "occupation": [OCCUPATIONS[user_taste[u] % len(OCCUPATIONS)] for u in range(users)],
        # Text, as MovieLens' are (a few Canadian codes among the US ones), not a number.
        "zip_code": [_zip_code(rng.integers(10000, 99999), u) for u in range(users)],
    }).to_csv(target / USERS_FILE, index=False)
    pd.DataFrame({
        "item_id": [str(i + 1) for i in range(items)],
        "title": [f"Item {i + 1}" for i in range(items)],
        "release_year": rng.integers(1950, 2000, size=items),
        "genres": [GENRES[g] + ("|" + GENRES[(g + 1) % len(GENRES)] if i % 3 == 0 else "") for i, g in enumerate(item_genre)],
    }).to_csv(target / ITEMS_FILE, index=False)
    return target


def _zip_code(number: int, user: int) -> str:
    return f"{number}" if user % 20 else f"T{number % 10}H{number // 10 % 10}N"
