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


def _blessing(tmp_path, blessed, name="blessing"):
    folder = tmp_path / name
    fs.write_json(str(folder / names.BLESSING_FILE), {"blessed": blessed, "gates": [{"name": "baseline", "passed": blessed}]})
    return str(folder)


def test_blessed_model_is_copied_to_a_new_version_and_the_pointer_follows(tmp_path, saved_model):
    root = str(tmp_path / "serving")
    first = executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r1.md"), version="1")
    second = executor.run(saved_model, _blessing(tmp_path, True), root, str(tmp_path / "r2.md"), version="2")
    latest = serving.read_latest(root)
    assert latest["version"] == "2" and latest["previous_version"] == "1"
    assert first[names.META_PUSHED_TO] == fs.join(root, "1") and second["bytes"] > 0
    assert sorted(p.name for p in (tmp_path / "serving").iterdir()) == ["1", "2", names.LATEST_POINTER]
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
    assert sorted(p.name for p in (tmp_path / "serving").iterdir()) == ["1", names.LATEST_POINTER]
    assert json.loads(pointer_before)["model_dir"] == fs.join(root, "1")


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
    assert sorted(p.name for p in (tmp_path / "serving").iterdir()) == ["3", names.LATEST_POINTER]

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
