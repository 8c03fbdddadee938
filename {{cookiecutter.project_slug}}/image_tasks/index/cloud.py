"""Private indexes that hand out short-lived tokens (the index_auth answer): the names that locate
one, the simple URL each serves, and what a refused token most likely means."""

import re
from urllib.parse import urlsplit

from image_tasks.errors import TaskError
from image_tasks.index.url import redact_url

# Indexes that hand out short-lived tokens instead of a password (the index_auth answer), the names
# that locate one, and the simple URL each serves. A name is checked before it goes into a URL.
CLOUD_NAMES = {
    "AWS account ID": (r"\d{12}", "123456789012"),
    "AWS region": (r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}", "us-east-1"),
    "CodeArtifact domain": (r"[a-z][a-z0-9-]{0,48}[a-z0-9]", "acme"),
    "CodeArtifact repository": (r"[A-Za-z0-9][A-Za-z0-9._-]{1,99}", "pypi-store"),
    "Google Cloud project ID": (r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "acme-artifacts"),
    "Artifact Registry location": (r"[a-z]+(?:-[a-z]+\d+)?", "europe-west4"),
    "Artifact Registry repository": (r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?", "python"),
}


def check_cloud_name(value: str, *, what: str, index_auth: str) -> str:
    pattern, example = CLOUD_NAMES[what]
    if not re.fullmatch(pattern, value):
        shown = f"The {what} {value!r} is not valid" if value else f"The {what} is missing"
        raise TaskError(
            f"{shown}: index_auth {index_auth} needs it to reach the index. Give it as the cloud "
            f"console shows it, for example {example!r}."
        )
    return value


def codeartifact_index_url(*, domain: str, account: str, region: str, repository: str) -> str:
    return (
        f"https://{domain}-{account}.d.codeartifact.{region}.amazonaws.com"
        f"/pypi/{repository}/simple/"
    )


def artifact_registry_index_url(*, location: str, project: str, repository: str) -> str:
    return f"https://{location}-python.pkg.dev/{project}/{repository}/simple/"


def check_cloud_index_url(url: str, *, expected: str, index_auth: str) -> str:
    """The index URL must be the one the cloud names above locate: the token is minted for it."""
    if url.strip().rstrip("/") != expected.rstrip("/"):
        raise TaskError(
            f"With index_auth {index_auth}, the private index URL must be {expected} (made from "
            f"the names you gave), not {redact_url(url)}. Accept the suggested URL, or fix the "
            "names it is made from."
        )
    return url


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
