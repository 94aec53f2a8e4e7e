"""File access: remote storage failures say what failed and what to do."""
import pytest

from kubetfx.components.common import fs


def test_a_gs_path_without_credentials_says_what_failed_and_what_to_do(monkeypatch, tmp_path):
    import tensorflow as tf

    from kubetfx.components.common.errors import StorageError
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest

    real = fs.gfile()

    class NoCredentials:
        def __getattr__(self, name):
            return getattr(real, name)

        def exists(self, path):
            if path.startswith("gs://"):
                raise tf.errors.FailedPreconditionError(None, None, "Error executing an HTTP request: "
                                                        "libcurl code 6 meaning 'Couldn't resolve host name'")
            return real.exists(path)

    monkeypatch.setattr(fs, "gfile", lambda: NoCredentials())
    with pytest.raises(StorageError, match=r"checking 'gs://bucket/i.csv' failed \(FailedPreconditionError: Error "
                                           r"executing an HTTP request.*gcloud auth application-default login"):
        ingest.read_table("gs://bucket/i.csv", "interactions", ("user_id", "item_id"))
    assert not fs.exists(str(tmp_path / "absent"))  # local paths unchanged
