"""What the index check says it stopped: the build, or the lock (which has no --no-index-check)."""

import pytest
from image_tasks.errors import TaskError
from image_tasks.index import probe
from image_tasks.tasks.check import index_serves

URL = "http://127.0.0.1:8765/simple/"


@pytest.fixture(autouse=True)
def refused(monkeypatch):
    monkeypatch.setattr(probe, "problem", lambda *_: "the index answered HTTP 401 for 'ci'")


def test_a_refusal_before_the_build_says_nothing_was_built_and_how_to_skip_the_check():
    with pytest.raises(TaskError) as stopped:
        index_serves(URL, ["acme-sauce"], "ci", "pw")
    assert str(stopped.value).startswith("The index cannot serve this build: the index answered")
    assert "Nothing was built." in str(stopped.value) and "--no-index-check" in str(stopped.value)


def test_a_refusal_while_locking_says_nothing_was_written_and_names_no_build_option():
    with pytest.raises(TaskError) as stopped:
        index_serves(URL, ["acme-sauce"], "ci", "pw", locking=True)
    assert str(stopped.value).startswith("The index cannot serve the lock: the index answered")
    assert "Nothing was written." in str(stopped.value)
    assert "built" not in str(stopped.value) and "--no-index-check" not in str(stopped.value)
