"""Values that are not secrets: templates, masks, documentation examples, unfilled fields."""

from __future__ import annotations

import re

PLACEHOLDER_WORDS = (
    "password",
    "passwd",
    "secret",
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "dummy",
    "redacted",
    "hunter2",
    "your",
    "token",
    "xxx",
    "***",
    "...",
    "username",
    "foobar",
    "tiger",
    "<",
    "${",
    "$(",
    "%(",
    "{" * 2,  # a template marker (spelt so that no template engine sees one here)
)
PLACEHOLDER_VALUES = frozenset(
    {
        "",
        "pass",
        "pwd",
        "pw",
        "user",
        "foo",
        "bar",
        "baz",
        "test",
        "admin",
        "guest",
        "root",
        "none",
        "null",
        "true",
        "false",
        "yes",
        "no",
        "0",
        "1",
        "x",
        "abc",
        "abc123",
        "123456",
        "qwerty",
        "login",
        "name",
        "key",
    }
)
_TEMPLATE = re.compile(
    r"^\$[A-Za-z_{(]|^%[sd(]|\{[A-Za-z_0-9]*\}|^<[^>]*>$|^\[[^\]]*\]$|^@[A-Z_]+@$"
)


# A credential file's secret field that is not filled in: ${VAR}, $VAR, $(cmd), <password>,
# %(name)s, a template marker, @VAR@, a mask (****, xxxx, ----), or nothing.
_UNFILLED = re.compile(
    r"^(?:\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\$\([^)]*\)|<[^<>]*>|%\([^)]*\)s"
    r"|\{\{[^}]*\}\}|@[A-Za-z_]+@|[*xX.#-]+)$"
)


def is_unfilled(value: str) -> bool:
    """True for a credential file's field that holds no secret (see `_UNFILLED`): stricter
    than `is_placeholder`, since a file found by its path is a strong signal."""
    v = value.strip().strip("\"'")
    return not v or _UNFILLED.match(v) is not None


def is_placeholder(value: str) -> bool:
    """True for values that are not real secrets: templates, masks, dictionary examples."""
    v = value.strip().strip("\"'")
    low = v.lower()
    if low in PLACEHOLDER_VALUES or len(v) < 4:
        return True
    if _TEMPLATE.search(v):
        return True
    if len(set(v)) <= 2:  # ****, xxxx, 0000, ...., xXxX
        return True
    return any(word in low for word in PLACEHOLDER_WORDS)
