"""Checks on the values that shape the image, shared by the template's pre-gen hook and the tasks.

Each check raises TaskError with a message that says what to do instead. Nothing here echoes a
value that could hold a secret: index URLs are shown with their userinfo and query removed.
"""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from image_tasks.errors import TaskError

SLUG = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")

# The distribution reference grammar (github.com/distribution/reference), as Docker applies it.
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
IMAGE_REPOSITORY = re.compile(_NAME)
IMAGE_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")

# PEP 508, minus direct URL references (those bypass the index, and may carry credentials).
_DIST = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_EXTRAS = rf"\[\s*(?:{_DIST}(?:\s*,\s*{_DIST})*)?\s*\]"
_ONE_VERSION = r"(?:===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9_.*+!-]+"
_VERSIONS = rf"{_ONE_VERSION}(?:\s*,\s*{_ONE_VERSION})*"
_MARKER = r"""[A-Za-z0-9_."'<>=!~() \t-]+"""
REQUIREMENT = re.compile(
    rf"\s*(?P<name>{_DIST})\s*(?:{_EXTRAS})?\s*(?:{_VERSIONS}|\(\s*{_VERSIONS}\s*\))?\s*"
    rf"(?:;\s*{_MARKER})?"
)
# A comma followed by a name starts the next requirement; a comma followed by an operator
# continues a version specifier ("ray>=2.9,<3").
_REQUIREMENT_SEPARATOR = re.compile(r",\s*(?=[A-Za-z0-9])")


def check_project_name(name: str) -> str:
    # It lands in a Dockerfile LABEL, where quotes, $ and backslashes would be interpreted.
    if not name.strip() or re.search(r'["$\\`\x00-\x1f]', name):
        raise TaskError(
            f"The project name {name!r} must be plain text without quotes, '$', backslashes or "
            "control characters (it becomes the image's title label). For example 'Ray Runtime'."
        )
    return name


def check_slug(slug: str) -> str:
    if not SLUG.fullmatch(slug):
        raise TaskError(
            f"The project slug {slug!r} is not a valid repository and image name. Use lowercase "
            "letters and digits, separated by single '-', '_' or '.', for example 'ray-runtime'."
        )
    return slug


def check_image(reference: str, *, what: str, allow_tag: bool) -> str:
    match = IMAGE_REFERENCE.fullmatch(reference)
    if match is None or len(match["name"]) > 255:
        raise TaskError(
            f"The {what} {reference!r} is not an image reference Docker accepts. Write it as "
            "[registry/]path[:tag], with a lowercase path, for example "
            "'ghcr.io/acme/ray-runtime'."
        )
    if not allow_tag and (match["tag"] or match["digest"]):
        raise TaskError(
            f"The {what} {reference!r} must not carry a tag or digest: the tasks and the workflow "
            f"add tags. Give the repository only, for example {match['name']!r}."
        )
    return reference


def redact_url(url: str) -> str:
    """The URL with any userinfo, query and fragment replaced, safe to print."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return "***"  # not a URL: no telling where a credential would sit in it
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    userinfo = "***@" if "@" in parts.netloc else ""
    tail = "?***" if parts.query or parts.fragment else ""
    return f"{parts.scheme}://{userinfo}{host}{parts.path}{tail}"


def is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_index_url(url: str) -> str:
    """Refuse an index URL that carries credentials, is not http(s), or is plain http off-host."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise TaskError(
            "The private index URL is malformed. Give the index's simple URL, for example "
            "'https://nexus.example.com/repository/pypi-group/simple/'."
        ) from None
    if "://" not in url:
        raise TaskError(_schemeless_index_url(url.strip()))
    shown = redact_url(url)
    if "@" in parts.netloc:
        raise TaskError(
            f"The private index URL carries credentials ({shown}): anything in the URL ends up in "
            "the Dockerfile, the build arguments, the image history and CI logs. Give the URL "
            "without 'user:password@' and put the credentials in ~/.netrc instead "
            "('machine HOST login USER password SECRET', mode 600); the build mounts it as a "
            "BuildKit secret. Treat the credential you typed as exposed and rotate it."
        )
    if parts.query or parts.fragment:
        raise TaskError(
            f"The private index URL has a query or fragment ({shown}), a common place for tokens. "
            "Give the plain simple URL and put credentials in ~/.netrc."
        )
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise TaskError(
            f"The private index URL {shown} is not an http(s) URL. Give the index's simple URL, "
            "for example 'https://nexus.example.com/repository/pypi-group/simple/'."
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise TaskError(
            f"The private index URL {shown} uses plain http to a remote host, which would send "
            "the netrc password in clear text. Use https (plain http is accepted only for an "
            "index on loopback, such as the local index session)."
        )
    return url.strip()


def _schemeless_index_url(text: str) -> str:
    if "@" in text or "?" in text:  # echo nothing that may be a credential
        return (
            "The private index URL has no scheme and carries what looks like credentials ('@' "
            "or a query). Give the plain simple URL, for example "
            "'https://nexus.example.com/repository/pypi-group/simple/', and put the credentials "
            "in ~/.netrc."
        )
    return (
        f"The private index URL {text!r} has no scheme. Write it in full, for example "
        f"'https://{text.lstrip('/')}'."
    )


def split_requirements(text: str) -> list[str]:
    """Split the comma-separated requirement list and check each one is a PEP 508 requirement."""
    pieces = (piece.strip().strip(",").strip() for piece in _REQUIREMENT_SEPARATOR.split(text))
    requirements = [piece for piece in pieces if piece]
    if not requirements:
        raise TaskError(
            "No private packages were given. List what the image installs from the private "
            "index, comma-separated, for example 'acme-models>=1.4, acme-features'."
        )
    for requirement in requirements:
        if "@" in requirement.split(";")[0] or "://" in requirement:
            raise TaskError(
                f"The requirement {requirement!r} is a direct URL reference, which bypasses the "
                "private index (and can carry credentials). Name the package and a version "
                "specifier instead, for example 'acme-models==1.4.2'."
            )
        if not REQUIREMENT.fullmatch(requirement):
            raise TaskError(
                f"{requirement!r} is not a valid PEP 508 requirement. Write a name with optional "
                "extras, version specifiers and marker, for example 'acme-models[gpu]>=1.4,<2'."
            )
    return requirements


REQUIREMENTS_HEADER = (
    "# Installed from the private index by the Dockerfile (the index proxies public PyPI).\n"
)


def requirements_file(text: str) -> str:
    """requirements.txt for the comma-separated list a bake was given, one requirement a line."""
    return REQUIREMENTS_HEADER + "".join(f"{r}\n" for r in split_requirements(text))


# Lines of a requirements file that would make the installer look beyond the one index.
_INDEX_OPTION = re.compile(
    r"\s*(-i|--index-url|--extra-index-url|-f|--find-links|--trusted-host)\b"
)


def requirement_names(text: str) -> list[str]:
    """Distribution names in a requirements file; refuses options that add another index."""
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        if _INDEX_OPTION.match(line):
            raise TaskError(
                f"requirements.txt line {number} points the installer at another index or "
                "location, which invites dependency confusion: the Dockerfile installs from "
                "the private index alone. Remove the line; let the private index proxy PyPI."
            )
        match = REQUIREMENT.match(line.split("#", 1)[0])
        if match and not line.lstrip().startswith("-"):
            names.append(match["name"])
    return names


# Official base images, as their publishers tag them. rayproject/ray and rayproject/ray-ml:
# {Ray version}[-py{XY}][-{cpu|gpu|cuXYZ}][-aarch64] (no platform: cpu for ray, gpu for ray-ml;
# gpu aliases a cuXYZ); they run as user ray, 1000:100. python (Docker Official Images):
# {X.Y[.Z]}[-slim][-{debian release}]; root, 0:0, so the Dockerfile adds user ray.
_RAY_REPOSITORY = re.compile(r"(?:docker\.io/)?rayproject/(?P<repo>ray|ray-ml)")
_RAY_TAG = re.compile(
    r"(?P<ray>\d+\.\d+\.\d+|latest|nightly|[0-9a-f]{6})(?:-py(?P<py>3\d{1,2}))?"
    r"(?:-(?P<platform>cpu|gpu|cu\d{2,3}))?(?:-(?P<arch>aarch64))?"
)
_PYTHON_REPOSITORY = re.compile(r"(?:docker\.io/)?(?:library/)?python")
_PYTHON_TAG = re.compile(r"(?P<py>3\.\d{1,2})(?:\.\d+)?(?:-slim)?(?:-[a-z]+)?")


@dataclass(frozen=True)
class BaseImage:
    """What an official base image's tag says; None for what it does not say (or other images)."""

    publisher: str | None  # "rayproject", "python", or None for any other image
    ray: str | None = None
    python: str | None = None  # "3.11"
    cuda: bool = False
    user: str | None = None
    uid: int | None = None
    gid: int | None = None


def base_image_facts(reference: str) -> BaseImage:
    """What an official tag says; raises for a rayproject or python tag they do not publish."""
    name, _, tag = reference.split("@")[0].rpartition(":")
    if "/" in tag or not name:  # no tag: a registry port, or none at all
        name, tag = reference.split("@")[0], "latest"
    if ray_repository := _RAY_REPOSITORY.fullmatch(name):
        tag_match = _RAY_TAG.fullmatch(tag)
        if tag_match is None:
            raise TaskError(
                f"The base image {reference!r} is not a tag rayproject publishes: they are "
                "RAY[-pyXY][-cpu|-gpu|-cuXYZ][-aarch64], for example "
                "'rayproject/ray:2.60.0-py311' or 'rayproject/ray:2.60.0-py311-cu128'."
            )
        platform = tag_match["platform"] or ("gpu" if ray_repository["repo"] == "ray-ml" else "cpu")
        py = tag_match["py"]
        return BaseImage(
            "rayproject",
            ray=tag_match["ray"],
            python=f"{py[0]}.{py[1:]}" if py else None,
            cuda=platform != "cpu",
            user="ray",
            uid=1000,
            gid=100,
        )
    if _PYTHON_REPOSITORY.fullmatch(name):
        tag_match = _PYTHON_TAG.fullmatch(tag)
        if tag_match is None:
            raise TaskError(
                f"The base image {reference!r} is not a python tag this template supports: use "
                "X.Y[-slim][-DEBIAN], for example 'python:3.12-slim-bookworm'."
            )
        return BaseImage("python", python=tag_match["py"], user="root", uid=0, gid=0)
    return BaseImage(None)


def check_versions(ray_version: str, python_version: str, base_image: str) -> None:
    """Ray and Python versions well-formed, and agreeing with an official base image's tag."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", ray_version):
        raise TaskError(f"The Ray version {ray_version!r} is not X.Y.Z, for example '2.60.0'.")
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        raise TaskError(f"The Python version {python_version!r} is not 3.X, for example '3.11'.")
    facts = base_image_facts(base_image)
    if facts.publisher != "rayproject":
        if facts.python and facts.python != python_version:
            raise TaskError(
                f"The base image {base_image!r} ships Python {facts.python}, but the "
                f"Python version is {python_version}. Make them agree."
            )
        return
    suggestion = f"rayproject/ray:{ray_version}-py{python_version.replace('.', '')}"
    if not re.fullmatch(r"\d+\.\d+\.\d+", facts.ray):
        raise TaskError(
            f"The base image {base_image!r} names no Ray release ({facts.ray} moves): "
            f"the manifests' rayVersion must be the image's exact Ray. Use, for example, "
            f"{suggestion!r}."
        )
    if facts.ray != ray_version:
        raise TaskError(
            f"The base image {base_image!r} ships Ray {facts.ray}, but the Ray version "
            f"is {ray_version}; the RayCluster's rayVersion must match the image. Make them agree."
        )
    if facts.python is None:
        raise TaskError(
            f"The base image {base_image!r} does not say its Python (the default "
            f"differs between Ray releases): add -pyXY, for example {suggestion!r}."
        )
    if facts.python != python_version:
        raise TaskError(
            f"The base image {base_image!r} ships Python {facts.python}, but the "
            f"Python version is {python_version}. Make them agree."
        )


def check_base_user(base_image: str, uid: str, gid: str) -> None:
    """The base image user answers agree with the official image's own user."""
    facts = base_image_facts(base_image)
    if facts.uid is not None and (str(facts.uid), str(facts.gid)) != (uid, gid):
        raise TaskError(
            f"The base image {base_image!r} runs as {facts.user}, "
            f"{facts.uid}:{facts.gid}, but the base image UID:GID answers are {uid}:{gid}; the "
            "secret mount must be readable by the installing user. Answer "
            f"{facts.uid} and {facts.gid}."
        )


def check_id(value: str, *, what: str) -> str:
    if not re.fullmatch(r"\d{1,10}", value):
        raise TaskError(f"The {what} {value!r} is not a number, for example 1000 (ray) or 0.")
    return value


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
