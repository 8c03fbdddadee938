"""Every rule the audit applies (see the package docstring for the policy): the credential
files (`files`), the secret patterns (`patterns`), and the rules whose findings the scanners
make by their own means (the canary, the image config's variables, package integrity)."""

from __future__ import annotations

import re

from .files import FILE_RULES
from .model import FileRule, PatternRule, Rule
from .patterns import PATTERN_RULES
from .variables import NOT_SECRET_NAME, NOT_SECRET_VALUE, SECRET_NAME

CANARY = Rule(
    id="canary",
    category="canary",
    title="Known secret found in the image",
    severity="critical",
    help="A value from the build's netrc (or another canary) is in the image. Rotate the "
    "credential, then rebuild with the secret mounted (RUN --mount=type=secret) and never "
    "copied, echoed, or passed as a build argument.",
)
PACKAGE_FILE_MODIFIED = Rule(
    id="package-file-modified",
    category="package-integrity",
    title="file owned by an installed package no longer matches its record",
    severity="medium",
    help="A file that an installed distribution's RECORD lists has another size or sha256 "
    "than the record says: a build step changed installed code after installing it. "
    "Reinstall the package, or patch it upstream, instead of editing site-packages.",
)
# Applied by `..scan.documents` to the assignments of the image config's strings (ENV entries,
# labels, build arguments in the history or a provenance statement): its regex reads one.
SECRET_VARIABLE = PatternRule(
    id="secret-variable",
    category="image-config",
    title="secret-looking variable with a literal value",
    severity="high",
    help="An ENV, LABEL or build argument whose name says it is a secret holds a literal "
    "value, which is recorded in the image config or history. Pass secrets with "
    "RUN --mount=type=secret, never ARG/ENV/LABEL.",
    regex=re.compile(rb"(?s)(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)=(?P<secret>.*)"),
    variable="name",
    secret_names=SECRET_NAME,
    not_secret_names=NOT_SECRET_NAME,
    not_secrets=NOT_SECRET_VALUE,
    check="netrc-variable",
    true_positives=(
        "NEXUS_PASSWORD=Q7vLm2Rt9xWp",
        "org.example.registry-token=Hs8Kq3Vn5Lz1",
        "NETRC=machine nexus login ci password Q7vLm2Rt9xWp",
    ),
    false_positives=(
        "NETRC=/run/secrets/netrc",
        "UV_INDEX_PRIVATE_PASSWORD=${PASSWORD}",
        "PASSWORD_FILE=/run/secrets/pw",
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
        "TOKEN=",
    ),
)

RULES: tuple[Rule, ...] = (
    CANARY,
    *FILE_RULES,
    *PATTERN_RULES,
    PACKAGE_FILE_MODIFIED,
    SECRET_VARIABLE,
)
RULES_BY_ID = {rule.id: rule for rule in RULES}
EXAMPLED: tuple[FileRule | PatternRule, ...] = (*FILE_RULES, *PATTERN_RULES, SECRET_VARIABLE)
