"""What a rule is: plain data that the engines in `..detect` and `..scan` apply, every policy
they follow a field here (none of them branches on a rule's id).

Two kinds of rule match content: a `FileRule` is chosen by a file's path (and may then read the
file's secret fields), a `PatternRule` by the shape of text.  The other rules (`Rule`: the
canary, package integrity) name findings that the scanners make by their own means.  Each
matching rule carries examples it must find (``true_positives``) and examples it must not
(``false_positives``); a test runs them all, with and without the optional accelerators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Category = Literal[
    "canary", "credential-file", "secret-pattern", "image-config", "package-integrity"
]
Severity = Literal["critical", "high", "medium"]
# where a pattern rule applies: everywhere, or not in files a package manager owns (see `scope`)
Scope = Literal["everywhere", "outside-packages"]
# how the secret a pattern matched is judged to be a placeholder (`placeholders`):
# "generic": templates, masks and dictionary words; "none": the rule's shape is enough
Placeholders = Literal["generic", "none"]
# a check of the match's structure beyond its regex (`..detect.checks`)
Check = Literal["", "jwt", "authorization", "netrc-variable"]
# which secret fields a credential file's rule reads: "content" (its ``content`` regex's
# 'secret' group), "netrc" (passwords, and logins standing in for tokens), "docker-auth"
# (``auth`` values, base64 ``user:password``), "" (none: the path is the finding)
Fields = Literal["", "content", "netrc", "docker-auth"]


@dataclass(frozen=True)
class Rule:
    id: str
    category: Category
    title: str
    severity: Severity
    help: str


@dataclass(frozen=True)
class FileExample:
    path: str  # as in the image, without the leading '/'
    text: str


@dataclass(frozen=True)
class FileRule(Rule):
    """A file that its path says holds credentials: a base name in ``names`` (under one of
    ``parents``, when given: a folder name, or a path that ends the parent), or any non-empty
    file under a prefix of ``under``.  ``fields`` says which secret fields are read; a file
    whose fields are all unfilled (``${VAR}``, ``<password>``, empty...) is a note, not a
    finding."""

    names: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    under: tuple[str, ...] = ()
    fields: Fields = ""
    content: re.Pattern[bytes] | None = None
    true_positives: tuple[FileExample, ...] = ()
    false_positives: tuple[FileExample, ...] = ()


@dataclass(frozen=True)
class PatternRule(Rule):
    """Text with the shape of a credential.

    Candidates come from ``keywords`` (literals) or ``locators`` (regexes that, together, match
    wherever ``regex`` can, as tight as possible: every hit costs a closer look; two simple
    locators cost hyperscan less than one alternation of both); ``regex`` is matched at
    each candidate within ``max_length`` bytes.  Its group ``secret`` is the secret; groups
    named in ``redact`` are masked in the excerpt (the secret always); its group ``name``, when
    the rule names one in ``variable``, is the variable that holds the secret, reported as the
    finding's ``variable`` and judged by ``secret_names``/``not_secret_names`` (matched on the
    name upper-cased, '.' and '-' as '_'); a secret that ``not_secrets`` matches whole (a
    path, a number...) is no secret.

    A match is no finding when its secret is shorter than ``min_length`` (CR and LF not
    counted), has fewer than ``min_distinct`` distinct characters after its first
    ``fixed_prefix`` ones (a token's fixed prefix), mixes fewer than ``min_classes`` kinds of
    character (lower case, upper case, digits: a word is no password), holds one of
    ``known_examples`` (documented example values, case-insensitive), is a placeholder
    (``placeholders``), fails the structural ``check``, is under ``short_secret`` characters
    with a placeholder user, or belongs to one of ``anonymous_users`` (the group ``user``). A
    lookahead after the match needs ``max_length`` to reach one byte past it.
    """

    regex: re.Pattern[bytes] | None = None
    keywords: tuple[bytes, ...] = ()
    locators: tuple[re.Pattern[bytes], ...] = ()
    max_length: int = 1024
    scope: Scope = "everywhere"
    placeholders: Placeholders = "generic"
    min_length: int = 0
    min_distinct: int = 0
    fixed_prefix: int = 0
    min_classes: int = 0  # of lower-case letters, upper-case letters and digits
    known_examples: tuple[str, ...] = ()
    short_secret: int = 0
    anonymous_users: tuple[str, ...] = ()  # logins whose password is no secret (FTP's)
    check: Check = ""
    redact: tuple[str, ...] = ("secret",)
    variable: str = ""  # the regex group that names the variable ("" for none)
    secret_names: re.Pattern[str] | None = None
    not_secret_names: re.Pattern[str] | None = None
    not_secrets: re.Pattern[str] | None = None  # values that are no secret (fullmatch)
    true_positives: tuple[str, ...] = ()
    false_positives: tuple[str, ...] = ()
