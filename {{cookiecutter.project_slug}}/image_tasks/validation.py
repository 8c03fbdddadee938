"""Checks on the values that shape the image, shared by the template's pre-gen hook and the tasks.

Each check raises TaskError with a message that says what to do instead. (What an index URL may
be is checked in `index.url`.)
"""

import re

from image_tasks.errors import TaskError
from image_tasks.index.probe import projects

SLUG = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")

# The distribution reference grammar (github.com/distribution/reference), as Docker applies it.
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
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
    "# What the image installs from the private index (which proxies public PyPI), on top of\n"
    "# its base image. `nox -s lock` resolves it into requirements.txt, every package pinned\n"
    "# with hashes, keeping the base image's own packages (base-packages.txt) as they are.\n"
    "-c base-packages.txt\n"
)


def requirements_file(text: str) -> str:
    """requirements.in for the comma-separated list a bake was given, one requirement a line."""
    return REQUIREMENTS_HEADER + "".join(f"{r}\n" for r in split_requirements(text))


# Lines of a requirements file that would make the installer look beyond the one index.
_INDEX_OPTION = re.compile(
    r"\s*(-i|--index-url|--extra-index-url|-f|--find-links|--trusted-host)\b"
)


def requirement_names(text: str, file: str = "requirements.in") -> list[str]:
    """The projects a requirements file names (normalised, as the index knows them); refuses
    options that add another index."""
    for number, line in enumerate(text.splitlines(), 1):
        if _INDEX_OPTION.match(line):
            raise TaskError(
                f"{file} line {number} points the installer at another index or "
                "location, which invites dependency confusion: the Dockerfile installs from "
                "the private index alone. Remove the line; let the private index proxy PyPI."
            )
    return projects(text)


def check_id(value: str, *, what: str) -> str:
    if not re.fullmatch(r"\d{1,10}", value):
        raise TaskError(f"The {what} {value!r} is not a number, for example 1000 (ray) or 0.")
    return value
