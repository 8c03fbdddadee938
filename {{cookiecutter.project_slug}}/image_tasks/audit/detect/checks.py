"""Whether a pattern rule's match is a finding: the rule's policy fields applied to it (see
`..rules.model.PatternRule`), and the structural checks a rule can name."""

from __future__ import annotations

import base64
import binascii
import json
import re

from ..rules.model import PatternRule
from ..rules.placeholders import is_placeholder


def real_match(rule: PatternRule, m: re.Match) -> bool:
    """Is ``m``, a match of ``rule.regex``, a secret (not a placeholder, an example, a
    variable whose name says nothing secret...)?"""
    if rule.variable and not secret_name(rule, variable(rule, m)):
        return False
    if rule.anonymous_users and _group(m, "user").lower() in rule.anonymous_users:
        return False
    secret = m.group("secret").decode("utf-8", "replace")
    bare = secret.replace("\r", "").replace("\n", "")
    if len(bare) < rule.min_length:
        return False
    if rule.min_distinct and len(set(bare[rule.fixed_prefix :])) < rule.min_distinct:
        return False
    if rule.min_classes and _classes(bare) < rule.min_classes:
        return False
    low = secret.lower()
    if any(example.lower() in low for example in rule.known_examples):
        return False
    if rule.not_secrets is not None and rule.not_secrets.fullmatch(secret.strip()):
        return False
    verdict = CHECKS[rule.check](m) if rule.check else None
    if verdict is not None:
        return verdict
    if len(secret) < rule.short_secret and is_placeholder(_group(m, "user")):
        return False
    return rule.placeholders == "none" or not is_placeholder(secret)


def variable(rule: PatternRule, m: re.Match) -> str | None:
    """The name of the variable a match assigns (None for a rule that reads none)."""
    return _group(m, rule.variable) if rule.variable else None


def secret_name(rule: PatternRule, name: str) -> bool:
    upper = name.upper().replace("-", "_").replace(".", "_")
    if rule.secret_names is not None and not rule.secret_names.search(upper):
        return False
    return rule.not_secret_names is None or not rule.not_secret_names.search(upper)


def _classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
    )


def _group(m: re.Match, name: str) -> str:
    value = m.group(name) if name in m.re.groupindex else None
    return (value or b"").decode("utf-8", "replace")


def _b64json(part: str):
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        return None


# A check returns False (no finding), True (a finding: the other judgements do not apply) or
# None (no verdict: the placeholder judgement follows).


def _jwt(m: re.Match) -> bool | None:
    """A JWT's header and payload are base64url JSON objects, the header naming its "alg"."""
    header, payload, _ = _group(m, "secret").split(".", 2)
    head = _b64json(header)
    ok = isinstance(head, dict) and "alg" in head and isinstance(_b64json(payload), dict)
    return None if ok else False


def _authorization(m: re.Match) -> bool | None:
    """A Basic credential is base64 of user:password: its password must be no placeholder."""
    if _group(m, "scheme").lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(m.group("secret"), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None  # not base64: judged as it stands
    _, sep, password = decoded.partition(":")
    return False if sep and is_placeholder(password) else None


def _netrc_variable(m: re.Match) -> bool | None:
    """NETRC (and *_NETRC) names a file; its value is a secret when it is netrc text that
    holds a password or a login (which the placeholder words would wrongly dismiss)."""
    name = _group(m, "name").upper().replace("-", "_").replace(".", "_")
    if name not in ("NETRC", "NET_RC") and not name.endswith("_NETRC"):
        return None
    words = set(_group(m, "secret").split())
    return "password" in words or ("login" in words and "machine" in words)


CHECKS = {"jwt": _jwt, "authorization": _authorization, "netrc-variable": _netrc_variable}
