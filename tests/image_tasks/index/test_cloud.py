"""The rules for the index_auth answers and for index URLs, and the build's hint when an index
of short-lived tokens refuses one."""

import pytest
from image_tasks import settings, validation
from image_tasks.errors import TaskError
from image_tasks.index import cloud
from image_tasks.index.url import redact_url
from image_tasks.tasks import build

CODEARTIFACT = "https://acme-012345678901.d.codeartifact.eu-west-1.amazonaws.com/pypi/store/simple/"
ARTIFACT_REGISTRY = "https://europe-west4-python.pkg.dev/acme-artifacts/python/simple/"
REFUSED = "the index answered HTTP 401 (Unauthorized) for 'aws' at HOST: the credential is wrong"


def test_the_cloud_urls_are_the_ones_the_providers_serve():
    assert (
        cloud.codeartifact_index_url(
            domain="acme", account="012345678901", region="eu-west-1", repository="store"
        )
        == CODEARTIFACT
    )
    assert (
        cloud.artifact_registry_index_url(
            location="europe-west4", project="acme-artifacts", repository="python"
        )
        == ARTIFACT_REGISTRY
    )


@pytest.mark.parametrize(
    ("what", "good", "bad"),
    [
        ("AWS account ID", "012345678901", "12345"),
        ("AWS region", "us-gov-west-1", "Europe"),
        ("CodeArtifact domain", "acme-corp", "Acme_Corp"),
        ("CodeArtifact repository", "pypi.store_1", "-store"),
        ("Google Cloud project ID", "acme-artifacts", "acme"),
        ("Artifact Registry location", "us", "US-East"),
        ("Artifact Registry repository", "python-3", "3python"),
    ],
)
def test_cloud_names(what, good, bad):
    assert cloud.check_cloud_name(good, what=what, index_auth="x") == good
    with pytest.raises(TaskError, match=rf"The {what} '{bad}' is not valid"):
        cloud.check_cloud_name(bad, what=what, index_auth="x")
    with pytest.raises(TaskError, match=rf"The {what} is missing"):
        cloud.check_cloud_name("", what=what, index_auth="x")


def test_a_cloud_index_url_must_be_the_one_its_names_locate():
    assert cloud.check_cloud_index_url(CODEARTIFACT.rstrip("/"), expected=CODEARTIFACT,
                                            index_auth="aws-codeartifact")  # fmt: skip
    with pytest.raises(TaskError, match=f"must be {CODEARTIFACT}") as refused:
        cloud.check_cloud_index_url(
            "https://u:secret@nexus.example.com/simple/",
            expected=CODEARTIFACT,
            index_auth="aws-codeartifact",
        )
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@host/simple/?t=1", "https://***@host/simple/?***"),
        ("host/simple/", "***"),
        ("u:p@host/simple/", "***"),
    ],
)
def test_redact_url_shows_no_credential(url, shown):
    assert redact_url(url) == shown


def test_requirements_file_is_one_requirement_a_line():
    text = validation.requirements_file("acme-models[gpu]>=1.4,<2, acme-features")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["-c base-packages.txt", "acme-models[gpu]>=1.4,<2", "acme-features"]
    assert text.startswith("#") and text.endswith("\n")


@pytest.mark.parametrize(
    ("url", "hint"),
    [(CODEARTIFACT, "12 hours"), (ARTIFACT_REGISTRY, "an hour"), ("https://nexus/simple/", "")],
)
def test_a_refused_short_lived_token_is_called_expired(url, hint):
    said = build.expiry_hint(REFUSED, url)
    assert (hint in said) if hint else said == ""
    assert build.expiry_hint("'acme' is not on the index HOST (HTTP 404 for ...)", url) == ""


def test_the_install_step_s_refusal_carries_the_hint():
    config = settings.TaskSettings(
        image="x:dev",
        index_url=CODEARTIFACT,
        engine=None,
        secret_id="netrc",
        runtime_uid=1000,
        frontend=None,
        base_image="local/ray:2",
    )
    said = build.why(f"#9 0.4 index_probe: {REFUSED}.\n", config)
    assert "the token has expired" in said and "get-authorization-token" in said
