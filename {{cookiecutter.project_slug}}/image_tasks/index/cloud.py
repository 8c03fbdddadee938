"""Private indexes that hand out short-lived tokens (the index_auth answer): the simple URL each
serves, the names it is made of, and what a refused token most likely means."""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from image_tasks.errors import TaskError
from image_tasks.index.url import redact_url

# The names that locate a cloud index, each as the cloud console shows it.
CLOUD_NAMES = {
    "AWS account ID": (r"\d{12}", "123456789012"),
    "AWS region": (r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}", "us-east-1"),
    "CodeArtifact domain": (r"[a-z][a-z0-9-]{0,48}[a-z0-9]", "acme"),
    "CodeArtifact repository": (r"[A-Za-z0-9][A-Za-z0-9._-]{1,99}", "pypi-store"),
    "Google Cloud project ID": (r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "acme-artifacts"),
    "Artifact Registry location": (r"[a-z]+(?:-[a-z]+\d+)?", "europe-west4"),
    "Artifact Registry repository": (r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?", "python"),
}


@dataclass(frozen=True)
class CloudIndex:
    """The simple URL a cloud index serves: its shape, a loose pattern that takes it apart (each
    part is then checked by name, so that a bad one is named), and where a user finds it."""

    shape: str
    pattern: re.Pattern[str]
    names: dict[str, str]  # the pattern's group -> its name in CLOUD_NAMES
    where: str


CLOUD_INDEXES = {
    "aws-codeartifact": CloudIndex(
        "https://DOMAIN-ACCOUNT.d.codeartifact.REGION.amazonaws.com/pypi/REPOSITORY/simple/",
        re.compile(
            r"https://(?P<domain>[^/.]+)-(?P<account>[^/.-]+)\.d\.codeartifact\.(?P<region>[^/.]+)"
            r"\.amazonaws\.com/pypi/(?P<repository>[^/]+)/simple/?"
        ),
        {
            "domain": "CodeArtifact domain",
            "account": "AWS account ID",
            "region": "AWS region",
            "repository": "CodeArtifact repository",
        },
        "`aws codeartifact get-repository-endpoint --domain DOMAIN --domain-owner ACCOUNT "
        "--repository REPOSITORY --format pypi` prints it without the final simple/",
    ),
    "google-artifact-registry": CloudIndex(
        "https://LOCATION-python.pkg.dev/PROJECT/REPOSITORY/simple/",
        re.compile(
            r"https://(?P<location>[^/.]+)-python\.pkg\.dev/(?P<project>[^/]+)"
            r"/(?P<repository>[^/]+)/simple/?"
        ),
        {
            "location": "Artifact Registry location",
            "project": "Google Cloud project ID",
            "repository": "Artifact Registry repository",
        },
        "`gcloud artifacts print-settings python --project PROJECT --location LOCATION "
        "--repository REPOSITORY` prints it as the index-url",
    ),
}


def cloud_index_names(url: str, index_auth: str) -> dict[str, str]:
    """The names a cloud index's simple URL is made of, each checked (the workflow mints its
    token with them); {} for an index_auth that uses a password."""
    index = CLOUD_INDEXES.get(index_auth)
    if index is None:
        return {}
    wanted = (
        f"With index_auth {index_auth}, the private index URL is your repository's simple URL, "
        f"{index.shape} ({index.where})."
    )
    if url.strip() == index.shape:
        raise TaskError(f"The private index URL is still the example. {wanted}")
    match = index.pattern.fullmatch(url.strip())
    if match is None:
        raise TaskError(f"The private index URL {redact_url(url)} is not one. {wanted}")
    for key, what in index.names.items():
        pattern, example = CLOUD_NAMES[what]
        if not re.fullmatch(pattern, match[key]):
            raise TaskError(
                f"The {what} {match[key]!r} in the private index URL is not valid (for example "
                f"{example!r}). {wanted}"
            )
    return match.groupdict()


# How each short-lived token is made again, by the index's host name.
_TOKEN_SOURCES = (
    (
        re.compile(r"[a-z0-9-]+-\d{12}\.d\.codeartifact\.[a-z0-9-]+\.amazonaws\.com"),
        "an AWS CodeArtifact token lasts 12 hours at most; write a fresh netrc with the "
        "README's `aws codeartifact get-authorization-token` command",
    ),
    (
        re.compile(r"[a-z0-9-]+-python\.pkg\.dev"),
        "a Google access token lasts an hour; write a fresh netrc with the README's "
        "`gcloud auth print-access-token` command",
    ),
)


def token_expiry_hint(index_url: str) -> str:
    """For an index that issues short-lived tokens, a sentence on what a refusal most likely
    means (to append to a message); else ""."""
    host = urlsplit(index_url).hostname or ""
    for pattern, hint in _TOKEN_SOURCES:
        if pattern.fullmatch(host):
            return f" If it worked before, the token has expired: {hint}."
    return ""
