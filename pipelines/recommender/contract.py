"""The recommender's model contract, defined once: the signatures its later steps call on a model.

Ranking evaluation scores the catalogue, batch recommendations and serving ask for the top K, and
serving explains with the catalogue's scores, so a recommender's SavedModel exposes three
signatures. The recommender pipeline has the trainer check them right after run_fn, on the model
it has loaded (`MODEL_CHECK`, the train component's `model_check`), so that a model the later steps
cannot use fails there, naming what is missing; evaluation and serving check what they load.
"""
from kubetfx.components.common.errors import ModelContractError
from kubetfx.pipelines.recommender import explain

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
# Optional: a model without it still serves; with it, serving explains a request that sends no list
# of its own (the reference model's `recent_items`) from the user's stored history.
SIGNATURE_HISTORY = explain.HISTORY_SIGNATURE
OPTIONAL_SIGNATURES = {
    SIGNATURE_HISTORY: "{'user_id': [batch]} → {'item_ids': string [batch, m]}: each user's stored history, "
                       "newest last, padded with ''",
}
# The train component's model_check: `require_signatures` below.
MODEL_CHECK = f"{__name__}:require_signatures"


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

