"""A synthetic e-commerce data set at any size, in the schema the reference pipeline reads.

Users have demographics and very different activity (a heavy-tailed number of interactions);
products have categories, brands, prices and a long-tailed popularity; each user prefers a few
categories. Interactions are drawn in chunks and appended to CSV, so ten million of them fit in
modest memory, and the same seed always gives the same files.

Effects other parts of the suite look for can be planted:
- `unfair_group`: users of one occupation whose choices ignore their tastes (served badly);
- `shift_feature`: users' `age` moved up by `shift_amount` years (drift for the monitor);
- `new_items`: products that only appear in the latest tenth of the log (unseen in training).
"""
import dataclasses
import pathlib

import numpy as np
import pandas as pd

from kubetfx.pipelines.recommender import data

CATEGORIES = ("Electronics", "Books", "Fashion", "Home", "Sports", "Beauty", "Toys", "Grocery",
              "Garden", "Automotive", "Music", "Health")
OCCUPATIONS = ("student", "engineer", "teacher", "nurse", "sales", "artist", "retired", "manager",
               "clerk", "other")
START_TIMESTAMP = 1_600_000_000
SPAN_SECONDS = 365 * 24 * 3600
_CHUNK = 500_000


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    interactions: int = 100_000
    users: int = 0  # 0: one user per 50 interactions
    items: int = 0  # 0: about one product per 60 interactions, at least 200
    seed: int = 0
    taste_strength: float = 0.75
    unfair_group: str = ""
    shift_feature: str = ""
    shift_amount: float = 15.0
    new_items: int = 0

    @property
    def n_users(self) -> int:
        return self.users or max(50, self.interactions // 50)

    @property
    def n_items(self) -> int:
        return self.items or max(200, self.interactions // 60)


def generate(out_dir: str, config: GeneratorConfig) -> dict:
    """Writes interactions.csv, users.csv and items.csv under `out_dir`; returns their row counts."""
    rng = np.random.default_rng(config.seed)
    target = pathlib.Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    users = _users(rng, config)
    items = _items(rng, config)
    users.drop(columns=["activity", "taste"]).to_csv(target / data.USERS_FILE, index=False)
    items.drop(columns=["popularity", "category"]).to_csv(target / data.ITEMS_FILE, index=False)
    written = _write_interactions(rng, config, users, items, target / data.INTERACTIONS_FILE)
    return {"interactions": written, "users": len(users), "items": len(items)}


def _users(rng, config: GeneratorConfig) -> pd.DataFrame:
    n = config.n_users
    age = np.clip(rng.normal(38, 13, n), 16, 85)
    if config.shift_feature == "age":
        age = np.clip(age + config.shift_amount, 16, 95)
    return pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n)],
        "age": age.astype(int),
        "gender": rng.choice(["F", "M", "X"], size=n, p=[0.49, 0.49, 0.02]),
        "occupation": rng.choice(OCCUPATIONS, size=n),
        "zip_code": rng.integers(10_000, 99_999, size=n).astype(str),
        # Log-normal activity: many light users, a few a hundred times as active.
        "activity": np.exp(rng.normal(0.0, 1.1, n)),
        "taste": rng.integers(0, len(CATEGORIES), size=n),
    })


def _items(rng, config: GeneratorConfig) -> pd.DataFrame:
    n = config.n_items + config.new_items
    category = rng.integers(0, len(CATEGORIES), size=n)
    second = (category + rng.integers(1, len(CATEGORIES), size=n)) % len(CATEGORIES)
    has_second = rng.random(n) < 0.3
    popularity = 1.0 / np.arange(1, n + 1) ** 0.9
    rng.shuffle(popularity)
    return pd.DataFrame({
        "item_id": [f"p{i}" for i in range(n)],
        "title": [f"{CATEGORIES[c]} product {i}" for i, c in enumerate(category)],
        "genres": [CATEGORIES[c] + (f"|{CATEGORIES[s]}" if h else "") for c, s, h in zip(category, second, has_second)],
        "price": np.round(np.exp(rng.normal(3.2, 0.9, n)), 2),
        "brand": [f"brand{b}" for b in rng.integers(0, max(5, n // 20), size=n)],
        "release_year": rng.integers(2015, 2026, size=n),
        "popularity": popularity,
    }).assign(category=category)


def _write_interactions(rng, config, users: pd.DataFrame, items: pd.DataFrame, path: pathlib.Path) -> int:
    sampler = _ItemSampler(items, config)
    user_p = users["activity"].to_numpy() / users["activity"].sum()
    unfair = (users["occupation"] == config.unfair_group).to_numpy() if config.unfair_group else np.zeros(len(users), bool)
    written = 0
    with open(path, "w") as out:
        out.write("user_id,item_id,rating,timestamp\n")
        while written < config.interactions:
            size = min(_CHUNK, config.interactions - written)
            position = (written + np.arange(size)) / config.interactions  # 0 → 1 across the log
            user = rng.choice(len(users), size=size, p=user_p)
            follows_taste = (rng.random(size) < config.taste_strength) & ~unfair[user]
            item = sampler.sample(rng, users["taste"].to_numpy()[user], follows_taste, position)
            chunk = pd.DataFrame({
                "user_id": users["user_id"].to_numpy()[user],
                "item_id": items["item_id"].to_numpy()[item],
                "rating": np.where(follows_taste, rng.integers(3, 6, size), rng.integers(1, 6, size)),
                "timestamp": START_TIMESTAMP + (position * SPAN_SECONDS).astype(np.int64),
            })
            chunk.to_csv(out, header=False, index=False)
            written += size
    return written


class _ItemSampler:
    """Draws products by popularity, from the user's favourite category or the whole catalogue;
    new products only in the last tenth of the log."""

    def __init__(self, items: pd.DataFrame, config: GeneratorConfig):
        n_old = config.n_items
        weights = items["popularity"].to_numpy()
        self._old_cdf = np.cumsum(weights[:n_old]) / weights[:n_old].sum()
        self._new = np.arange(n_old, len(items))
        category = items["category"].to_numpy()[:n_old]
        self._by_category = [np.flatnonzero(category == c) for c in range(len(CATEGORIES))]
        self._category_cdf = [np.cumsum(weights[idx]) / weights[idx].sum() if len(idx) else None for idx in self._by_category]

    def sample(self, rng, taste: np.ndarray, follows_taste: np.ndarray, position: np.ndarray) -> np.ndarray:
        chosen = np.searchsorted(self._old_cdf, rng.random(len(taste)))
        for category, members in enumerate(self._by_category):
            rows = np.flatnonzero(follows_taste & (taste == category))
            if len(rows) and len(members):
                picks = np.searchsorted(self._category_cdf[category], rng.random(len(rows)))
                chosen[rows] = members[np.minimum(picks, len(members) - 1)]
        if len(self._new):
            late = np.flatnonzero((position > 0.9) & (rng.random(len(taste)) < 0.2))
            chosen[late] = rng.choice(self._new, size=len(late))
        return np.minimum(chosen, len(self._old_cdf) - 1 + len(self._new))
