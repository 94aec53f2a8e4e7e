"""The recommender's model contract, defined once: the signatures its later steps call on a model.

Ranking evaluation scores the catalogue, batch recommendations and serving ask for the top K, and
serving explains with the catalogue's scores, so a recommender's SavedModel exposes three
signatures. The recommender pipeline has the trainer check them right after run_fn
(`MODEL_CHECK`, the train component's `model_check`), so that a model the later steps cannot use
fails there, naming what is missing; evaluation and serving check them again on what they load.
"""
from kubetfx.components.common import fs
from kubetfx.components.common.errors import ModelContractError

SIGNATURE_RECOMMEND = "serving_default"
SIGNATURE_SCORE_CATALOGUE = "score_catalogue"
SIGNATURE_CATALOGUE = "catalogue"
# What each signature takes and returns, as an error tells the author of a run_fn.
SIGNATURES = {
    SIGNATURE_RECOMMEND: "raw user features → {'item_ids': [batch, K], 'scores': [batch, K]}",
    SIGNATURE_SCORE_CATALOGUE: "raw user features (tensors of shape [None]) → {'scores': float32 [batch, catalogue]}",
    SIGNATURE_CATALOGUE: "no inputs → {'item_ids': string [catalogue]}",
}
REQUIRED_SIGNATURES = tuple(SIGNATURES)
# The train component's model_check: `check_model` below.
MODEL_CHECK = f"{__name__}:check_model"


def require_signatures(loaded, model_dir: str) -> None:
    """Fails unless the loaded SavedModel `loaded` (from `model_dir`) has every signature of the
    contract, naming the missing ones, what each should be, and how to export them."""
    missing = [name for name in REQUIRED_SIGNATURES if name not in loaded.signatures]
    if missing:
        expected = "; ".join(f"'{name}': {SIGNATURES[name]}" for name in missing)
        raise ModelContractError(
            f"the SavedModel at '{model_dir}' lacks the signature(s) {missing} of the recommender's model contract "
            f"(found {sorted(loaded.signatures.keys())}); expected {expected}. Export them from run_fn "
            "(model.save(fn_args.serving_model_dir, signatures={...}), as kubetfx.pipelines.recommender.module does), "
            "or train any SavedModel in a pipeline of your own (pipelines/tfx_classifier)")


def check_model(model_dir: str) -> None:
    """The trainer's model check (`MODEL_CHECK`): the SavedModel in `model_dir` follows the contract."""
    import tensorflow as tf

    if not fs.exists(fs.join(model_dir, "saved_model.pb")):
        raise ModelContractError(f"no SavedModel at '{model_dir}' (no saved_model.pb there)")
    require_signatures(tf.saved_model.load(model_dir), model_dir)
