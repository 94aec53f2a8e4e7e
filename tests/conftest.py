"""Shared fixtures: small data the tests make, and the steps' outputs built once per session."""
import os
import pathlib

# Must precede the first TensorFlow import (see kubetfx/__init__.py).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REFERENCE_MODULE = "kubetfx.pipelines.recommender.module"


@pytest.fixture(scope="session")
def container_engine():
    """A Docker API client on DOCKER_HOST (podman's API under `make test`). An engine that does not
    answer fails the container tests with the end of its log (KUBETFX_ENGINE_LOG), where it stopped."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        log = os.environ.get("KUBETFX_ENGINE_LOG", "")
        tail = pathlib.Path(log).read_text()[-2000:] if log and os.path.exists(log) else "(no log)"
        pytest.fail(f"the container engine at DOCKER_HOST={os.environ.get('DOCKER_HOST')} does not answer ({error}); "
                    f"its log {log} ends:\n{tail}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    """A small data set with MovieLens-100K's schema (200 users, 120 items, 4,000 interactions)."""
    from kubetfx.pipelines.recommender import data

    return data.synthetic(str(tmp_path_factory.mktemp("synthetic")))


@pytest.fixture(scope="session")
def ingested(synthetic_data, tmp_path_factory):
    """The ingest step's examples for the synthetic data."""
    from kubetfx.pipelines.recommender.components.ingest import executor
    from kubetfx.pipelines.recommender import data

    out = tmp_path_factory.mktemp("ingest")
    executor.run(str(synthetic_data / data.INTERACTIONS_FILE), str(synthetic_data / data.USERS_FILE),
                 str(synthetic_data / data.ITEMS_FILE), str(out / "examples"), str(out / "report.md"))
    return out / "examples"


@pytest.fixture(scope="session")
def validated(ingested, tmp_path_factory):
    """The validate step's schema folder for the synthetic data."""
    from kubetfx.components.validate import executor

    out = tmp_path_factory.mktemp("validate")
    executor.run(str(ingested), str(out / "statistics"), str(out / "schema"), str(out / "report.html"))
    return out / "schema"


@pytest.fixture(scope="session")
def transformed(ingested, validated, tmp_path_factory):
    """The transform step's outputs: (transform graph, transformed examples, figures)."""
    from kubetfx.components.transform import executor

    out = tmp_path_factory.mktemp("transform")
    figures = executor.run(str(ingested), str(validated), REFERENCE_MODULE, str(out / "graph"),
                           str(out / "examples"), str(out / "report.md"))
    return out / "graph", out / "examples", figures


@pytest.fixture(scope="session")
def trained(transformed, validated, tmp_path_factory):
    """The train step's model folder and figures, after a short training."""
    from kubetfx.components.train import executor
    from kubetfx.components.train.args import TrainArgs

    graph, transformed_examples, _ = transformed
    out = tmp_path_factory.mktemp("train")
    figures = executor.run(TrainArgs(str(transformed_examples), str(graph), str(validated), REFERENCE_MODULE,
                                     str(out / "model"), str(out / "model_run"), str(out / "report.md"),
                                     train_steps=60, eval_steps=2, hyperparameters={"epochs": 2}))
    return out / "model", figures


@pytest.fixture(scope="session")
def churn(tmp_path_factory):
    """A churn classification data set as an ingest step would leave it (tests/tfx_style_data.py)."""
    import tfx_style_data

    return tfx_style_data.make_churn(tmp_path_factory.mktemp("churn"))


@pytest.fixture(scope="session")
def churn_trained(churn):
    """The TFX-style module file (tests/tfx_style_module.py) through transform and train on `churn`."""
    import tfx_style_data

    return tfx_style_data.train_churn(churn)
