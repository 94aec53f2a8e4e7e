"""The push executor: only blessed models, new versions only, the pointer moved last."""
import json

import pytest

from kubetfx.components.common import fs, names, serving
from kubetfx.components.common.errors import PushError
from kubetfx.components.push import executor


@pytest.fixture()
def saved_model(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.weight = tf.Variable(3.0)
    module.score = tf.function(lambda x: x * module.weight, input_signature=[tf.TensorSpec([None], tf.float32)])
    path = str(tmp_path / "model")
    tf.saved_model.save(module, path)
    return path


def _listing(folder) -> list[str]:
    """What a push leaves in the serving root besides its lock file: versions and LATEST."""
    return sorted(p.name for p in folder.iterdir() if p.name != serving.LOCK_FILE)


def _blessing(tmp_path, blessed, name="blessing", **fields):
    folder = tmp_path / name
    fs.write_json(str(folder / names.BLESSING_FILE),
                  {"blessed": blessed, "gates": [{"name": "baseline", "passed": blessed}], **fields})
    return str(folder)


def test_blessed_model_is_copied_to_a_new_version_and_the_pointer_follows(tmp_path, saved_model):
    root = str(tmp_path / "serving")
    first = executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="1")
    second = executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"), version="2")
    latest = serving.read_latest(root)
    assert latest["version"] == "2" and latest["previous_version"] == "1"
    assert first[names.META_PUSHED_TO] == fs.join(root, "1") and second["bytes"] > 0
    assert _listing(tmp_path / "serving") == ["1", "2", names.LATEST_POINTER]
    assert json.loads((tmp_path / "serving" / names.LATEST_POINTER).read_text())["model_dir"] == "2"  # relative
    import tensorflow as tf

    loaded = tf.saved_model.load(latest["model_dir"])
    assert float(loaded.score(tf.constant([2.0]))[0]) == 6.0


def test_unblessed_model_is_refused_and_nothing_changes(tmp_path, saved_model):
    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="1")
    before = (tmp_path / "serving" / names.LATEST_POINTER).read_text()
    with pytest.raises(PushError, match="not blessed.*failed gates: baseline"):
        executor.run(saved_model, _blessing(tmp_path, False, "b2"), root, str(tmp_path / "r2.md"), version="2")
    assert (tmp_path / "serving" / names.LATEST_POINTER).read_text() == before
    assert not (tmp_path / "serving" / "2").exists()


def test_a_model_judged_against_a_version_no_longer_served_is_not_pushed(tmp_path, saved_model):
    """Run A is evaluated while nothing is served; run B pushes version 1 meanwhile: A was never
    compared with 1, so it is refused and 1 stays served. Judged against 1, it is pushed."""
    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="1")
    before = (tmp_path / "serving" / names.LATEST_POINTER).read_text()
    with pytest.raises(PushError, match="judged against version None, but LATEST .* now names '1'"):
        executor.run(saved_model, _blessing(tmp_path, True, "stale", **{names.META_JUDGED_AGAINST: None}), root, str(tmp_path / "r2.md"), version="2")
    assert (tmp_path / "serving" / names.LATEST_POINTER).read_text() == before
    assert _listing(tmp_path / "serving") == ["1", names.LATEST_POINTER]
    executor.run(saved_model, _blessing(tmp_path, True, "current", **{names.META_JUDGED_AGAINST: "1"}), root, str(tmp_path / "r3.md"), version="3")
    assert serving.read_latest(root)["version"] == "3"


def test_an_existing_version_is_never_overwritten(tmp_path, saved_model):
    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="7")
    with pytest.raises(PushError, match="version '7' already exists"):
        executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"), version="7")


def test_a_crash_mid_copy_leaves_the_served_model_and_pointer_untouched(tmp_path, saved_model, monkeypatch):
    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="1")
    pointer_before = (tmp_path / "serving" / names.LATEST_POINTER).read_text()
    real_copy = fs.gfile().copy
    copied = []

    def copy_then_fail(src, dst, overwrite=False):
        if copied:
            raise OSError("disk full")
        copied.append(dst)
        real_copy(src, dst, overwrite=overwrite)

    monkeypatch.setattr(fs.gfile(), "copy", copy_then_fail)
    with pytest.raises(PushError, match="disk full.*served model is unchanged"):
        executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"), version="2")
    assert copied, "the copy had started before it failed"
    assert (tmp_path / "serving" / names.LATEST_POINTER).read_text() == pointer_before
    assert _listing(tmp_path / "serving") == ["1", names.LATEST_POINTER]
    assert serving.read_latest(root)["model_dir"] == fs.join(root, "1")


def test_missing_blessing_or_model_is_refused(tmp_path, saved_model):
    with pytest.raises(PushError, match="no blessing"):
        executor.run(saved_model, str(tmp_path / "nothing"), str(tmp_path / "s"), str(tmp_path / "r.md"))
    with pytest.raises(PushError, match="no SavedModel"):
        executor.run(str(tmp_path / "absent"), _blessing(tmp_path, True), str(tmp_path / "s"), str(tmp_path / "r.md"))


def test_push_writes_a_kserve_inference_service_and_a_vertex_upload_request(tmp_path, saved_model):
    import yaml
    from google.cloud.aiplatform_v1.types import UploadModelRequest

    from kubetfx.components.push import manifests

    root, image = str(tmp_path / "serving"), "registry.example.com/team/kubetfx:1.0"
    deploy = manifests.DeployConfig(serving_image=image, vertex_parent="projects/shop/locations/europe-west4")
    figures = executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r.md"), version="3",
                           deploy_uri=str(tmp_path / "pushed"), deploy=deploy)
    assert _listing(tmp_path / "serving") == ["3", names.LATEST_POINTER]

    service = yaml.safe_load((tmp_path / "pushed" / names.INFERENCE_SERVICE_FILE).read_text())
    assert _off_schema(service, "V1beta1InferenceService") == []
    assert (service["apiVersion"], service["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    container = service["spec"]["predictor"]["containers"][0]
    assert container["image"] == image
    assert {"name": "STORAGE_URI", "value": fs.join(root, "3")} in container["env"]
    assert container["command"] + container["args"] == manifests.serve_command(names.SERVING_MOUNT, "3")
    assert "volumeMounts" not in container and "volumes" not in service["spec"]["predictor"]  # no request log asked for

    text = (tmp_path / "pushed" / names.VERTEX_UPLOAD_FILE).read_text()
    request = UploadModelRequest.from_json(text)  # refuses fields the aiplatform_v1 schema lacks
    assert request.parent == "projects/shop/locations/europe-west4"
    assert request.model.artifact_uri == fs.join(root, "3") and request.model.container_spec.image_uri == image
    assert request.model.container_spec.predict_route == f"/v1/models/{names.SERVING_MODEL_NAME}:predict"
    assert "$(AIP_STORAGE_URI)" in request.model.container_spec.args
    assert figures["inference_service"].endswith(names.INFERENCE_SERVICE_FILE)
    assert "KServe InferenceService" in (tmp_path / "r.md").read_text()


def test_the_manifests_turn_on_the_request_log_with_its_salt(tmp_path, saved_model):
    import yaml
    from google.cloud.aiplatform_v1.types import UploadModelRequest

    from kubetfx.components.push import manifests

    deploy = manifests.DeployConfig(serving_image="img", request_log_root="gs://logs/recommender",
                                    request_log_salt_uri=manifests.SALT_SECRET_FILE)
    executor.run(saved_model, _blessing(tmp_path, True), str(tmp_path / "serving"), str(tmp_path / "r.md"), version="4",
                 deploy_uri=str(tmp_path / "pushed"), deploy=deploy)
    service = yaml.safe_load((tmp_path / "pushed" / names.INFERENCE_SERVICE_FILE).read_text())
    assert _off_schema(service, "V1beta1InferenceService") == []
    container = service["spec"]["predictor"]["containers"][0]
    logging_flags = ["--request-log-root", "gs://logs/recommender", "--request-log-salt-file", manifests.SALT_SECRET_FILE]
    assert container["args"][-4:] == logging_flags
    assert container["volumeMounts"] == [{"name": manifests.SALT_SECRET, "mountPath": manifests.SALT_SECRET_MOUNT,
                                          "readOnly": True}]
    assert service["spec"]["predictor"]["volumes"][0]["secret"] == {"secretName": manifests.SALT_SECRET, "optional": True}
    request = UploadModelRequest.from_json((tmp_path / "pushed" / names.VERTEX_UPLOAD_FILE).read_text())
    assert list(request.model.container_spec.args)[-4:] == logging_flags


def test_a_request_log_without_a_salt_is_refused():
    from kubetfx.components.push import manifests

    with pytest.raises(ValueError, match="request_log_root is 'gs://logs' but request_log_salt_uri is empty"):
        manifests.DeployConfig(serving_image="img", request_log_root="gs://logs")


def _off_schema(value, type_name: str, path: str = "") -> list[str]:
    """Where `value` strays from the OpenAPI models of the kserve package (and the Kubernetes
    models they refer to): unknown fields and wrong kinds of value, by path."""
    import re

    import kserve.models
    import kubernetes.client.models

    if type_name.startswith("list["):
        return [error for index, item in enumerate(value) for error in _off_schema(item, type_name[5:-1], f"{path}[{index}]")]
    if type_name.startswith("dict("):
        inner = re.fullmatch(r"dict\([^,]+, (.+)\)", type_name).group(1)
        return [error for key, item in value.items() for error in _off_schema(item, inner, f"{path}.{key}")]
    primitive = {"str": str, "int": int, "bool": bool, "float": float}.get(type_name)
    if primitive:
        return [] if isinstance(value, primitive) else [f"{path}: expected {type_name}, got {value!r}"]
    model = getattr(kserve.models, type_name, None) or getattr(kubernetes.client.models, type_name, None)
    if model is None:
        return []  # free-form (object) or a quantity
    fields = {key: model.openapi_types[attribute] for attribute, key in model.attribute_map.items()}
    errors = [f"{path}.{key}: {type_name} has no such field" for key in value if key not in fields]
    return errors + [error for key, item in value.items() if key in fields
                     for error in _off_schema(item, fields[key], f"{path}.{key}")]


def test_an_overlapping_push_that_finishes_last_never_moves_latest_back(tmp_path, saved_model, monkeypatch):
    """Push A copies slowly; push B starts later and finishes first. A must not replace B."""
    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r0.md"), version="100")
    real_copy_tree = fs.copy_tree
    pushed_meanwhile = []

    def slow_copy(src, dst):
        size = real_copy_tree(src, dst)
        if not pushed_meanwhile:  # B runs whole while A is still copying
            monkeypatch.setattr(fs, "copy_tree", real_copy_tree)
            pushed_meanwhile.append(executor.run(saved_model, _blessing(tmp_path, True, "b"), root,
                                                 str(tmp_path / "rb.md"), version="102"))
        return size

    monkeypatch.setattr(fs, "copy_tree", slow_copy)
    with pytest.raises(PushError, match=r"LATEST .* moved from version '100' to '102' while this push ran, so "
                                        r"version '101' .* was not made LATEST and its copy was removed"):
        executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "ra.md"), version="101")
    latest = serving.read_latest(root)
    assert latest["version"] == "102" and latest["previous_version"] == "100"
    assert _listing(tmp_path / "serving") == ["100", "102", names.LATEST_POINTER]


def test_pushes_in_the_same_millisecond_get_distinct_versions(tmp_path, saved_model, monkeypatch):
    root = str(tmp_path / "serving")
    monkeypatch.setattr(executor, "new_version", lambda now=None: "20260101120000000")
    first = executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"))
    second = executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"))
    assert (first["version"], second["version"]) == ("20260101120000000", "20260101120000001")
    assert serving.read_latest(root)["version"] == "20260101120000001"


def test_a_version_claimed_meanwhile_moves_on_to_the_next_number(tmp_path, saved_model, monkeypatch):
    """Two pushes generate the same version; the one that renames second takes the next number
    (and, having started before the other moved LATEST, loses the pointer and says so)."""
    root = str(tmp_path / "serving")
    monkeypatch.setattr(executor, "new_version", lambda now=None: "20260101120000000")
    real_copy_tree = fs.copy_tree

    def copy_while_another_pushes(src, dst):
        size = real_copy_tree(src, dst)
        monkeypatch.setattr(fs, "copy_tree", real_copy_tree)
        if not (tmp_path / "serving" / "20260101120000000").exists():
            executor.run(saved_model, _blessing(tmp_path, True, "b"), root, str(tmp_path / "rb.md"))
        return size

    monkeypatch.setattr(fs, "copy_tree", copy_while_another_pushes)
    with pytest.raises(PushError, match="version '20260101120000001' .* was not made LATEST") as error:
        executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "ra.md"))
    assert "already exists" not in str(error.value)
    assert serving.read_latest(root)["version"] == "20260101120000000"


def test_an_explicit_version_older_than_latest_is_refused(tmp_path, saved_model):
    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="20")
    with pytest.raises(PushError, match="version '9' is not newer than version '20'.*only moves forward"):
        executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"), version="9")
    assert _listing(tmp_path / "serving") == ["20", names.LATEST_POINTER]


def test_a_full_disk_when_the_pointer_is_written_gives_pushs_own_error_and_no_debris(tmp_path, saved_model, monkeypatch):
    import tensorflow as tf

    root = str(tmp_path / "serving")
    executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="1")
    pointer_before = (tmp_path / "serving" / names.LATEST_POINTER).read_text()
    real_write_text = fs.write_text

    def full_disk(path, text):
        if names.LATEST_POINTER in path:
            real_write_text(path, text[:10])  # a partial temporary file, as a full disk leaves it
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        real_write_text(path, text)

    monkeypatch.setattr(fs, "write_text", full_disk)
    with pytest.raises(PushError, match=r"version '2' was copied .* LATEST could not be replaced "
                                        r"\(ResourceExhaustedError: No space left on device\); the copy was removed"):
        executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"), version="2")
    assert (tmp_path / "serving" / names.LATEST_POINTER).read_text() == pointer_before
    assert _listing(tmp_path / "serving") == ["1", names.LATEST_POINTER]


def test_the_next_push_sweeps_what_a_killed_push_left(tmp_path, saved_model):
    import time

    root = tmp_path / "serving"
    executor.run(saved_model, _blessing(tmp_path, True), str(root), str(tmp_path / "r1.md"), version="1")
    long_ago = int(time.time() * 1000) - int(executor.STALE_SECONDS * 1000) - 60_000
    just_now = int(time.time() * 1000) - 1_000
    (root / f"{executor.STAGING_PREFIX}{long_ago}-2-deadbeef" / "variables").mkdir(parents=True)
    (root / "3").mkdir()  # a killed push renamed version 3 into place but never moved LATEST
    (root / f"{executor.PUSHING_PREFIX}{long_ago}-3").write_text("")
    (root / f"{executor.STAGING_PREFIX}{just_now}-4-cafecafe").mkdir()  # a push that may still be running
    figures = executor.run(saved_model, _blessing(tmp_path, True), str(root), str(tmp_path / "r5.md"), version="5")
    assert sorted(figures["swept"]) == sorted([f"{executor.STAGING_PREFIX}{long_ago}-2-deadbeef", "3",
                                               f"{executor.PUSHING_PREFIX}{long_ago}-3"])
    assert _listing(root) == [f"{executor.STAGING_PREFIX}{just_now}-4-cafecafe", "1", "5", names.LATEST_POINTER]
    assert "left by killed pushes, removed" in (tmp_path / "r5.md").read_text()


def test_a_malformed_pointer_is_replaced_by_the_next_push(tmp_path, saved_model):
    root = tmp_path / "serving"
    root.mkdir()
    (root / names.LATEST_POINTER).write_text('{"model_dir": "/somewhere"}')
    figures = executor.run(saved_model, _blessing(tmp_path, True), str(root), str(tmp_path / "r.md"), version="1")
    assert serving.read_latest(str(root))["version"] == "1" and figures["version"] == "1"


def test_on_cloud_storage_the_pointer_is_replaced_only_at_the_generation_read(monkeypatch):
    """gs://: a pointer written by another push between the read and the write fails the write's
    generation precondition, and the push sees that LATEST moved."""
    from google.api_core import exceptions
    from google.cloud import storage

    objects = {}  # name → (text, generation)

    class Blob:
        def __init__(self, name):
            self.name = name
            self.generation = objects.get(name, (None, 0))[1]

        def download_as_text(self):
            return objects[self.name][0]

        def upload_from_string(self, text, content_type=None, if_generation_match=None):
            if if_generation_match is not None and objects.get(self.name, (None, 0))[1] != if_generation_match:
                raise exceptions.PreconditionFailed("generation changed")
            objects[self.name] = (text, objects.get(self.name, (None, 0))[1] + 1)

    class Bucket:
        def get_blob(self, name):
            return Blob(name) if name in objects else None

        def blob(self, name):
            return Blob(name)

    class Client:
        def bucket(self, name):
            return Bucket()

    monkeypatch.setattr(storage, "Client", Client)
    monkeypatch.setattr(fs, "exists", lambda path: path.endswith(names.LATEST_POINTER) and "serving/LATEST" in objects)
    monkeypatch.setattr(fs, "read_text", lambda path: objects["serving/LATEST"][0])
    serving.replace_latest("gs://bucket/serving", {"version": "1", "model_dir": "1"}, None)
    with pytest.raises(serving.PointerMoved, match="'1'"):
        serving.replace_latest("gs://bucket/serving", {"version": "2", "model_dir": "2"}, None)
    real_upload = Blob.upload_from_string

    def another_push_first(self, text, content_type=None, if_generation_match=None):
        real_upload(self, json.dumps({"version": "3", "model_dir": "3"}), content_type)
        real_upload(self, text, content_type, if_generation_match)

    monkeypatch.setattr(Blob, "upload_from_string", another_push_first)
    with pytest.raises(serving.PointerMoved, match="'3'"):
        serving.replace_latest("gs://bucket/serving", {"version": "2", "model_dir": "2"}, "1")
    assert json.loads(objects["serving/LATEST"][0])["version"] == "3"


def test_the_push_component_passes_token_canary_and_lineage_to_the_executor(tmp_path, saved_model):
    """The thin KFP interface, called as KFP calls it: the token and canary reach the KServe manifest,
    the run id, the data URIs and the blessing's metrics reach the version's MANIFEST.json."""
    import shutil
    import types

    import yaml

    from kubetfx.components.common import integrity
    from kubetfx.components.push import component, manifests
    from kubetfx.components.train.executor import serving_model_dir

    model_uri = tmp_path / "model_artifact"
    shutil.copytree(saved_model, serving_model_dir(str(model_uri)))
    blessing = tmp_path / "blessing"
    fs.write_json(str(blessing / names.BLESSING_FILE), {"blessed": True, "gates": [], "metrics": {"ndcg@10": 0.31}})

    def artifact(path):
        return types.SimpleNamespace(path=str(path), metadata={})

    pushed = artifact(tmp_path / "pushed")
    root = tmp_path / "serving"
    component.push(model=artifact(model_uri), blessing=artifact(blessing), serving_root=str(root), serving_image="img",
                   pushed_model=pushed, report=artifact(tmp_path / "report.md"), require_token=True,
                   canary_traffic_percent=10, run_id="run-123", run_name="recommender-20260102",
                   interactions_uri="gs://data/interactions.csv", users_uri="gs://data/users.csv")
    version = pushed.metadata["version"]
    lineage = integrity.verify(str(root / version), require=True)["lineage"]
    assert lineage["run"] == {"id": "run-123", "name": "recommender-20260102"}
    assert lineage["data"] == {"interactions_uri": "gs://data/interactions.csv", "users_uri": "gs://data/users.csv"}
    assert lineage["metrics"] == {"ndcg@10": 0.31} and lineage["version"] == version
    predictor = yaml.safe_load((tmp_path / "pushed" / names.INFERENCE_SERVICE_FILE).read_text())["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert predictor["containers"][0]["args"][-2:] == ["--auth-token-file", manifests.TOKEN_SECRET_FILE]


def test_by_default_the_component_asks_for_no_token_and_no_canary(tmp_path, saved_model):
    import shutil
    import types

    import yaml

    from kubetfx.components.push import component
    from kubetfx.components.train.executor import serving_model_dir

    model_uri = tmp_path / "model_artifact"
    shutil.copytree(saved_model, serving_model_dir(str(model_uri)))

    def artifact(path):
        return types.SimpleNamespace(path=str(path), metadata={})

    component.push(model=artifact(model_uri), blessing=artifact(_blessing(tmp_path, True)), serving_root=str(tmp_path / "s"),
                   serving_image="img", pushed_model=artifact(tmp_path / "pushed"), report=artifact(tmp_path / "r.md"))
    predictor = yaml.safe_load((tmp_path / "pushed" / names.INFERENCE_SERVICE_FILE).read_text())["spec"]["predictor"]
    assert "canaryTrafficPercent" not in predictor and "--auth-token-file" not in predictor["containers"][0]["args"]
