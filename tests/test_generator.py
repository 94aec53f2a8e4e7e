"""The synthetic e-commerce generator: deterministic, in the pipeline's schema, effects planted."""
import hashlib

import pandas as pd

from kubetfx.pipelines.recommender import data
from kubetfx.pipelines.recommender.generator import GeneratorConfig, generate


def _digest(folder):
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            for name in (data.INTERACTIONS_FILE, data.USERS_FILE, data.ITEMS_FILE)}


def _read(folder):
    return tuple(pd.read_csv(folder / name, dtype={"user_id": str, "item_id": str})
                 for name in (data.INTERACTIONS_FILE, data.USERS_FILE, data.ITEMS_FILE))


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    config = GeneratorConfig(interactions=5_000)
    generate(str(tmp_path / "a"), config)
    generate(str(tmp_path / "b"), config)
    generate(str(tmp_path / "c"), GeneratorConfig(interactions=5_000, seed=1))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_schema_and_sizes_match_what_the_pipeline_reads(tmp_path):
    counts = generate(str(tmp_path), GeneratorConfig(interactions=12_345))
    interactions, users, items = _read(tmp_path)
    assert counts == {"interactions": 12_345, "users": len(users), "items": len(items)}
    assert list(interactions.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert {"user_id", "age", "gender", "occupation"} <= set(users.columns)
    assert {"item_id", "genres", "price"} <= set(items.columns)
    assert set(interactions.user_id) <= set(users.user_id) and set(interactions.item_id) <= set(items.item_id)
    assert interactions.timestamp.is_monotonic_increasing and interactions.rating.between(1, 5).all()


def test_popularity_is_long_tailed_and_activity_uneven(tmp_path):
    generate(str(tmp_path), GeneratorConfig(interactions=50_000))
    interactions, _, items = _read(tmp_path)
    item_counts = interactions.item_id.value_counts()
    top_share = item_counts.iloc[: len(items) // 100].sum() / len(interactions)
    assert top_share > 0.10, "the top 1% of products should draw a large share"
    user_counts = interactions.user_id.value_counts()
    assert user_counts.max() > 10 * user_counts.median()


def _taste_share(interactions, users, items, mask):
    """Share of a group's interactions that fall in its users' most frequent category."""
    first_category = items.set_index("item_id").genres.str.split("|").str[0]
    joined = interactions[interactions.user_id.isin(users.user_id[mask])].assign(category=lambda f: f.item_id.map(first_category))
    top = joined.groupby("user_id").category.agg(lambda c: c.value_counts().iloc[0] / len(c))
    return top.mean()


def test_an_unfair_group_ignores_its_tastes(tmp_path):
    generate(str(tmp_path), GeneratorConfig(interactions=40_000, unfair_group="artist"))
    interactions, users, items = _read(tmp_path)
    artists = (users.occupation == "artist").to_numpy()
    assert _taste_share(interactions, users, items, artists) < _taste_share(interactions, users, items, ~artists) - 0.2


def test_shifted_age_and_new_items(tmp_path):
    generate(str(tmp_path / "base"), GeneratorConfig(interactions=5_000))
    generate(str(tmp_path / "shift"), GeneratorConfig(interactions=5_000, shift_feature="age", shift_amount=15, new_items=30))
    base_users = _read(tmp_path / "base")[1]
    interactions, users, items = _read(tmp_path / "shift")
    assert users.age.mean() > base_users.age.mean() + 10
    new_ids = set(items.item_id.iloc[-30:])
    late = interactions.timestamp >= interactions.timestamp.quantile(0.9)
    assert interactions[late].item_id.isin(new_ids).any()
    assert not interactions[~late].item_id.isin(new_ids).any()
