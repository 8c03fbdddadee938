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


def test_a_cloud_index_url_gives_the_names_the_workflow_mints_its_token_with():
    names = cloud.cloud_index_names(CODEARTIFACT, "aws-codeartifact")
    assert names == {
        "domain": "acme",
        "account": "012345678901",
        "region": "eu-west-1",
        "repository": "store",
    }
    hyphenated = CODEARTIFACT.replace("acme-", "acme-corp-").rstrip("/")  # no final slash
    assert cloud.cloud_index_names(hyphenated, "aws-codeartifact")["domain"] == "acme-corp"
    assert cloud.cloud_index_names(ARTIFACT_REGISTRY, "google-artifact-registry") == {
        "location": "europe-west4",
        "project": "acme-artifacts",
        "repository": "python",
    }
    assert cloud.cloud_index_names(CODEARTIFACT, "netrc-secret") == {}


@pytest.mark.parametrize(
    ("index_auth", "url", "what", "bad"),
    [
        ("aws-codeartifact", CODEARTIFACT.replace("012345678901", "1234"), "AWS account ID",
         "1234"),
        ("aws-codeartifact", CODEARTIFACT.replace("eu-west-1", "Europe"), "AWS region", "Europe"),
        ("aws-codeartifact", CODEARTIFACT.replace("acme-", "Acme_Corp-"), "CodeArtifact domain",
         "Acme_Corp"),
        ("aws-codeartifact", CODEARTIFACT.replace("/store/", "/-store/"), "CodeArtifact repository",
         "-store"),
        ("google-artifact-registry", ARTIFACT_REGISTRY.replace("acme-artifacts", "acme"),
         "Google Cloud project ID", "acme"),
        ("google-artifact-registry", ARTIFACT_REGISTRY.replace("europe-west4", "US-East"),
         "Artifact Registry location", "US-East"),
        ("google-artifact-registry", ARTIFACT_REGISTRY.replace("/python/", "/3python/"),
         "Artifact Registry repository", "3python"),
    ],
)  # fmt: skip
def test_each_name_in_a_cloud_index_url_is_checked(index_auth, url, what, bad):
    with pytest.raises(
        TaskError, match=rf"The {what} '{bad}' in the private index URL is not valid"
    ):
        cloud.cloud_index_names(url, index_auth)


def test_a_url_of_another_shape_is_refused_without_its_credential():
    with pytest.raises(TaskError, match=r"is not one\. With index_auth aws") as refused:
        cloud.cloud_index_names("https://u:secret@nexus.example.com/simple/", "aws-codeartifact")
    assert "secret" not in str(refused.value)
    shape = cloud.CLOUD_INDEXES["google-artifact-registry"].shape
    with pytest.raises(TaskError, match="still the example"):
        cloud.cloud_index_names(shape, "google-artifact-registry")


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
    said = build.why(f"#9 0.4 index_probe: {REFUSED}.\n", config, "buildx exited with 1")
    assert "the token has expired" in said and "get-authorization-token" in said
