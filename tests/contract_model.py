"""A tiny hand-built SavedModel under the kubetfx contract, for tests that need a model but not a
trained one: the reference model's four raw features in, `catalogue` out, and each user's best
item chosen by their age (item `age % len(catalogue)` first), so answers can be checked per user."""
from kubetfx.components.common import names
from kubetfx.pipelines.recommender import contract

DTYPES = {"user_id": "string", "age": "int64", "gender": "string", "occupation": "string"}


def build(path: str, catalogue: list[str], top_k: int = 5) -> str:
    import tensorflow as tf

    spec = {name: tf.TensorSpec([None], getattr(tf, dtype), name=name) for name, dtype in DTYPES.items()}
    items = tf.constant(catalogue)
    positions = tf.range(len(catalogue), dtype=tf.float32)

    def scores(features):
        best = tf.cast(features["age"] % len(catalogue), tf.float32)[:, None]
        return -tf.abs(positions[None, :] - best)  # the best item scores 0, its neighbours -1, ...

    def recommend(features):
        top = tf.math.top_k(scores(features), k=top_k)
        return {"item_ids": tf.gather(items, top.indices), "scores": top.values}

    signatures = {
        contract.SIGNATURE_RECOMMEND: tf.function(recommend, input_signature=[spec]),
        contract.SIGNATURE_SCORE_CATALOGUE: tf.function(lambda f: {"scores": scores(f)}, input_signature=[spec]),
        contract.SIGNATURE_CATALOGUE: tf.function(lambda: {"item_ids": items}, input_signature=[]),
    }
    tf.saved_model.save(tf.Module(), path, signatures=signatures)
    return path


def push(model_dir: str, serving_root: str, tmp, version: str) -> dict:
    """Pushes `model_dir` as `version` with a blessing that passes."""
    from kubetfx.components.common import fs
    from kubetfx.components.push import executor

    blessing = tmp / f"blessing-{version}"
    fs.write_json(str(blessing / names.BLESSING_FILE), {"blessed": True, "gates": []})
    return executor.run(model_dir, str(blessing), str(serving_root), str(tmp / f"push-{version}.md"), version=version)
