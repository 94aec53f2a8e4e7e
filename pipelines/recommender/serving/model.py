"""The KServe predictor: checked instances in, top-k items with scores out, every answer logged.

The served model is one reference (`current`), replaced whole by `swap`: a request reads it
once and keeps that model to the end, so a swap never drops or mixes requests.
"""
import asyncio
import time
import uuid

import kserve
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from kubetfx.pipelines.recommender import explain, names
from kubetfx.pipelines.recommender.serving import instances
from kubetfx.pipelines.recommender.serving.config import ServeConfig
from kubetfx.pipelines.recommender.serving.loaded import INTEGER, ITEMS, NUMBER, STRING, Batch, LoadedModel, Recommendation
from kubetfx.pipelines.recommender.serving.request_log import RequestLogger

VERSION_HEADER = "x-model-version"
_V2_DATATYPES = {STRING: "BYTES", INTEGER: "INT64", NUMBER: "FP32", ITEMS: "BYTES"}


class RecommenderModel(kserve.Model):
    """Answers v1 `instances` and v2 infer requests with the model `current` holds."""

    def __init__(self, config: ServeConfig, first: LoadedModel, request_log: RequestLogger | None = None):
        super().__init__(config.model_name, return_response_headers=True)
        self._config = config
        self._request_log = request_log
        self.current = first
        self.ready = True

    def swap(self, loaded: LoadedModel) -> None:
        """Serves `loaded` from the next request on (one reference assignment: atomic)."""
        self.current = loaded

    def get_input_types(self) -> list[dict]:
        """v2 model metadata: one [batch] tensor per feature, and the optional exclusions."""
        features = [{"name": name, "datatype": _V2_DATATYPES[kind], "shape": [-1, -1] if kind == ITEMS else [-1]}
                    for name, kind in self.current.features.items()]
        return features + [{"name": names.REQUEST_EXCLUDE, "datatype": "BYTES", "shape": [-1, -1]}]

    def get_output_types(self) -> list[dict]:
        return [{"name": "item_ids", "datatype": "BYTES", "shape": [-1, -1]},
                {"name": "scores", "datatype": "FP32", "shape": [-1, -1]}]

    async def predict(self, payload, headers=None, response_headers=None):
        model = self.current
        is_v2 = isinstance(payload, InferRequest)
        parse = instances.from_v2 if is_v2 else instances.from_v1
        batch = parse(payload, model.features, self._config.max_instances, self._config.default_k, len(model.catalogue))
        # TensorFlow releases the GIL while it computes, so a worker thread lets the event loop
        # read and check the next requests meanwhile.
        answers = await asyncio.get_running_loop().run_in_executor(None, model.recommend, batch)
        # Reasons cost a re-scoring per history item, so only instances that ask pay for them.
        explained = (await asyncio.get_running_loop().run_in_executor(None, model.explain, batch, answers)
                     if batch.wants_explanations() else [None] * len(answers))
        self._log(model, batch, answers)
        if response_headers is not None:
            response_headers[VERSION_HEADER] = model.version
        if is_v2:
            return _v2_response(payload, self.name, model.version, answers, explained)
        return {"predictions": [_v1_prediction(answer, why) for answer, why in zip(answers, explained)]}

    def _log(self, model: LoadedModel, batch: Batch, answers: list[Recommendation]) -> None:
        if self._request_log is None:
            return
        now = time.time()
        for index, answer in enumerate(answers):
            features = {name: values[index] for name, values in batch.columns.items() if name != names.USER_ID}
            user_id = batch.columns[names.USER_ID][index] if names.USER_ID in batch.columns else None
            self._request_log.log({
                "time": now, "model_version": model.version, "features": features, "k": batch.ks[index],
                "exclude": sorted(batch.excludes[index]), "items": answer.items, "scores": answer.scores,
            }, user_id=user_id)


def _v1_prediction(answer: Recommendation, why: explain.Explanation | None) -> dict:
    """`items` and `scores`; with an explanation, `reasons` beside them (one list per item:
    `{"item": history item, "score_drop": d}`, largest drop first), and where the history came from."""
    prediction = {"items": answer.items, "scores": answer.scores}
    if why is not None:
        prediction.update(why.to_dict())
    return prediction


def _v2_response(request: InferRequest, model_name: str, version: str, answers: list[Recommendation],
                 explained: list | None = None) -> InferResponse:
    """`item_ids` (BYTES) and `scores` (FP32), each [batch, k]; k shrinks to the shortest answer
    when exclusions leave fewer items than asked, since a tensor cannot be ragged. When the request
    asked for explanations, `reason_items` (BYTES) and `reason_score_drops` (FP32), each
    [batch, k, TOP_REASONS], padded with "" and 0."""
    width = min(len(answer.items) for answer in answers)
    shape = [len(answers), width]
    outputs = [
        InferOutput("item_ids", shape, "BYTES", [item for answer in answers for item in answer.items[:width]]),
        InferOutput("scores", shape, "FP32", [score for answer in answers for score in answer.scores[:width]]),
    ]
    if explained and any(why is not None for why in explained):
        top = explain.TOP_REASONS
        items, drops = [], []
        for why in explained:
            for reasons in (why.reasons if why is not None else [])[:width] or [[]] * width:
                padded = list(reasons[:top]) + [None] * (top - len(reasons[:top]))
                items += [reason.item if reason else "" for reason in padded]
                drops += [reason.score_drop if reason else 0.0 for reason in padded]
        outputs += [InferOutput("reason_items", [*shape, top], "BYTES", items),
                    InferOutput("reason_score_drops", [*shape, top], "FP32", drops)]
    return InferResponse(
        response_id=request.id or uuid.uuid4().hex,
        model_name=model_name,
        model_version=version,
        infer_outputs=outputs,
    )
