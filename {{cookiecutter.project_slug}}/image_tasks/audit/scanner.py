"""The engine that applies `rules` and canaries to layers, files, configs and JSON.

A layer is read once, member by member (`archive.TarStream`).  Canary needles are searched
with ``bytes.find`` on the reader's buffer, without copies: for members that fit in the buffer
(almost all of them), each needle is searched once over the buffer and the hits are mapped back
to the members (`Scanner._index_buffer`; a hit counts only wholly inside one member's data);
larger members are searched piece by piece (a short joint buffer catches needles that straddle
two pieces).  For text files, each pattern rule finds its candidates (keyword or literal-prefix
locator) and matches its regex there.  Findings carry the blob they came from; layer numbers,
history steps and deletions by later layers are resolved once the whole image is known
(`attribute`).
"""

from __future__ import annotations

import itertools
import re
import time
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import redaction
from .archive import TarStream, printable
from .canaries import CanarySet
from .errors import AuditError
from .report import Finding
from .rules import (
    FILE_RULES,
    NOT_SECRET_NAME,
    PATTERN_RULES,
    SECRET_NAME,
    Rule,
    in_package_tree,
    is_placeholder,
)

TEXT_SNIFF = 8192
COLLECT_LIMIT = 1 << 20  # content kept for credential-file content checks
ENCODED_BINARY_LIMIT = 1 << 20  # larger binaries get the raw/percent needles only
MAX_CANDIDATES = 200_000  # per rule and file: bounds the time of pathological files
MAX_FINDINGS_PER_FILE = 20
MAX_FRAGMENT_HITS = 64  # per line-wrapped base64 fragment and text: hits verified
MAX_BUFFER_HITS = 4096  # per needle and buffer; beyond, that needle is searched per member
OVERLAP = 9216  # carried between pieces of a large text file (longest rule match + slack)
KV = re.compile(r"(?:^|[\s|'\"])([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s]*)")


@dataclass
class LayerResult:
    """What one layer blob yielded: findings, deletions and counts."""

    findings: list[Finding] = field(default_factory=list)
    whiteouts: set[str] = field(default_factory=set)  # deleted paths
    opaque: set[str] = field(default_factory=set)  # directories whose lower content is hidden
    files: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)


def _file_rule_index() -> tuple[dict[str, list[Rule]], list[Rule]]:
    by_name: dict[str, list[Rule]] = {}
    prefixed = []
    for rule in FILE_RULES:
        for name in rule.names:
            by_name.setdefault(name, []).append(rule)
        if rule.under and not rule.names:
            prefixed.append(rule)
    return by_name, prefixed


FILE_RULES_BY_NAME, FILE_RULES_UNDER = _file_rule_index()
UNDER_PREFIXES = tuple(p for r in FILE_RULES_UNDER for p in r.under)


def _parent_ok(rule: Rule, parent: str) -> bool:
    if not rule.parents:
        return True
    components = parent.split("/")
    for want in rule.parents:
        if "/" in want:
            if parent == want or parent.endswith("/" + want):
                return True
        elif want in components:
            return True
    return False


class Scanner:
    """Applies canaries and rules; holds what all scans share (the scrubber, the policy)."""

    def __init__(self, canaries: CanarySet, scrub: redaction.Scrubber, strict: bool = False):
        self.canaries = canaries
        self.scrub = scrub
        self.strict = strict
        self.needles = [n.data for n in canaries.needles]
        self.fragments = canaries.fragments
        # base64 needles are skipped in large binaries unless strict (see rules.py, policy)
        self.plain_needles = [
            n.data if not n.encodings[0].startswith("base64") else None for n in canaries.needles
        ]
        self.name_filter = (
            re.compile(b"|".join(re.escape(n) for n in self.needles)) if self.needles else None
        )
        self.overlap = max(0, canaries.max_needle - 1)
        self.deadline: float | None = None
        self.package_rules = tuple(r for r in PATTERN_RULES if r.scope != "outside-packages")
        for variant, _, _ in canaries.variants:
            scrub.add(variant)
        # canary hits in the reader's current buffer (see `_index_buffer`)
        self._indexed = None  # (stream, generation) the index belongs to
        self._hits: list[tuple[int, bytes, list[int] | None]] = []

    # -- canaries --------------------------------------------------------------------------
    def _canary_message(self, needle_index: int, where: str) -> str:
        needle = self.canaries.needles[needle_index]
        label = self.canaries.canaries[needle.canary].label
        return f"{label} found in {where} ({' or '.join(needle.encodings)})"

    def _content_hit(self, k: int, path: str, blob, data, lo: int, hi: int, at: int) -> Finding:
        """A canary finding for needle k at data[at:], inside a file spanning data[lo:hi]."""
        end = at + len(self.canaries.needles[k].data)
        return Finding(
            "canary",
            "/" + printable(path),
            self._canary_message(k, "file content"),
            excerpt=redaction.excerpt(data, lo, hi, at, end, marker="[CANARY]", whole_token=True),
            blob=blob,
        )

    def _wrapped(self, buf, s: int, e: int, path: str, blob, findings, found: set[int]) -> None:
        """Base64 of a canary broken across lines in the text ``buf[s:e]``: a fragment hit
        whose surroundings, CR and LF removed, hold the whole core (and did not before)."""
        for fragment in self.fragments:
            if fragment.canary in found:
                continue
            core = fragment.core
            slack = 2 * (len(core) // 60 + 1)  # one CR LF per line the core can span
            i = buf.find(fragment.data, s, e)
            tries = 0
            while i >= 0 and tries < MAX_FRAGMENT_HITS:
                tries += 1
                lo = max(s, i - fragment.offset - slack)
                window = bytes(buf[lo : min(e, i - fragment.offset + len(core) + slack)])
                if core not in window and core in window.translate(None, b"\r\n"):
                    found.add(fragment.canary)
                    label = self.canaries.canaries[fragment.canary].label
                    end = i + len(fragment.data)
                    findings.append(
                        Finding(
                            "canary",
                            "/" + printable(path),
                            f"{label} found in file content ({fragment.encoding})",
                            excerpt=redaction.excerpt(
                                buf, s, e, i, end, marker="[CANARY]", whole_token=True
                            ),
                            blob=blob,
                        )
                    )
                    break
                i = buf.find(fragment.data, i + 1, e)

    def canaries_in_text(self, data: bytes) -> list[tuple[int, str]]:
        """(canary index, encoding) for every canary variant in a short text."""
        hits = []
        seen = set()
        for variant, index, name in self.canaries.variants:
            if index not in seen and len(variant) >= 6 and variant in data:
                seen.add(index)
                hits.append((index, name))
        return hits

    # -- patterns on short texts (names, config strings) ------------------------------------
    def pattern_findings(
        self, data: bytes, path: str, where: str, location: str, blob, rules=PATTERN_RULES
    ) -> list[Finding]:
        """A finding for each real pattern match in a short text (a record, a target, a value)."""
        return [
            Finding(
                rule.id,
                path,
                f"{rule.title} in {where}",
                excerpt=self._pattern_excerpt(data, 0, len(data), m),
                location=location,
                blob=blob,
            )
            for rule, m in self.patterns_in_text(data, rules)
        ]

    def patterns_in_text(self, data: bytes, rules: Iterable[Rule] = PATTERN_RULES):
        """Yield (rule, match) for real (non-placeholder) matches in a short text."""
        for rule in rules:
            for m in rule.regex.finditer(data):
                secret = m.group("secret").decode("utf-8", "replace")
                if self._placeholder(rule, secret, m):
                    continue
                yield rule, m

    def _placeholder(self, rule: Rule, secret: str, m: re.Match) -> bool:
        if rule.id == "private-key-block":
            return len(secret.replace("\n", "").replace("\r", "")) < 64
        if rule.example_values and any(e.lower() in secret.lower() for e in rule.example_values):
            return True
        if rule.id in ("pypi-token", "github-token"):
            return len(set(secret[8:])) < 6 or "EXAMPLE" in secret.upper()
        if rule.id == "aws-access-key-id":
            return len(set(secret[4:])) < 5
        if rule.id == "url-credentials" and len(secret) < 8:
            # docs say user:pass@, scott:tiger@: short secrets with placeholder users
            user = m.group("user").decode("utf-8", "replace")
            if is_placeholder(user):
                return True
        return is_placeholder(secret)

    def _pattern_excerpt(self, buf, lo, hi, m: re.Match) -> str:
        spans = [m.span("secret")]
        if "user" in m.re.groupindex and m.group("user") != b"__token__":
            spans.append(m.span("user"))
        self.scrub.add(m.group("secret"))
        return redaction.excerpt(buf, lo, hi, m.start(), m.end(), spans)

    # -- layers ------------------------------------------------------------------------------
    def scan_layer(self, stream: TarStream, blob: str) -> LayerResult:
        result = LayerResult()
        deadline = self.deadline
        name_filter = self.name_filter
        small = min(len(stream.buf), ENCODED_BINARY_LIMIT)
        for member in stream:
            if deadline is not None and not member.index & 1023 and time.monotonic() > deadline:
                raise AuditError(
                    "the audit ran out of time while reading a layer; the image is unusually "
                    "large or hostile."
                )
            path = member.name
            raw_name = member.raw_name
            if name_filter is not None and name_filter.search(raw_name):
                for index, name in self.canaries_in_text(raw_name):
                    label = self.canaries.canaries[index].label
                    result.findings.append(
                        Finding(
                            "canary",
                            "/" + printable(path),
                            f"{label} found in a file name ({name})",
                            location="name",
                            blob=blob,
                        )
                    )
            if member.pax is not None:
                result.findings += self.scan_pax(member, blob)
            base = path.rpartition("/")[2]
            if base.startswith(".wh."):
                parent = path.rpartition("/")[0]
                if base == ".wh..wh..opq":
                    result.opaque.add(parent)
                else:
                    result.whiteouts.add((parent + "/" if parent else "") + base[4:])
                continue
            if member.kind in ("symlink", "hardlink"):
                self._scan_link(member, blob, result)
                continue
            if member.kind != "file":
                continue
            result.files += 1
            size = member.size
            result.bytes += size
            if not size:
                continue
            if size <= small:
                buf, s, e = stream.whole()
                self._scan_small(member, stream, buf, s, e, blob, result)
            else:
                self._scan_file(member, stream, blob, result)
        return result

    # -- members that fit in the reader's buffer ---------------------------------------------
    def _index_buffer(self, stream: TarStream, buf, start: int) -> None:
        """Search every needle once in ``buf[start:stream.end]`` and keep the hit offsets.

        Small members sit many to a buffer; one ``find`` per needle over the whole buffer
        replaces one per needle and member (and runs the fast two-way search on a large
        haystack instead of the short-haystack loop).  The members that come next in the same
        buffer generation start at or after ``start``; a hit counts for a member only when it
        lies wholly inside the member's data (see `_scan_small`).  A needle with more than
        `MAX_BUFFER_HITS` hits (hostile or degenerate data) is marked None and searched per
        member instead, which keeps the index's memory bounded.
        """
        end = stream.end
        hits = []
        for k, needle in enumerate(self.needles):
            i = buf.find(needle, start, end)
            if i < 0:
                continue
            positions: list[int] | None = []
            while i >= 0:
                if len(positions) >= MAX_BUFFER_HITS:
                    positions = None
                    break
                positions.append(i)
                i = buf.find(needle, i + 1, end)
            hits.append((k, needle, positions))
        self._hits = hits
        self._indexed = (stream, stream.generation)

    def _scan_small(self, member, stream, buf, s: int, e: int, blob: str, result) -> None:
        """`_scan_file` for a member whose data is ``buf[s:e]``, all in the reader's buffer.

        Same findings as `_scan_file`: every needle applies (such a member is never larger than
        `ENCODED_BINARY_LIMIT`); a needle counts only when wholly inside ``[s, e)``, so a hit
        running from one member's data into the next header or member is no hit for either,
        as with a per-member ``find``.
        """
        path = member.name
        findings = result.findings
        before = len(findings)
        if self.needles:
            indexed = self._indexed
            if indexed is None or indexed[0] is not stream or indexed[1] != stream.generation:
                self._index_buffer(stream, buf, s)
            for k, needle, positions in self._hits:
                if positions is None:
                    i = buf.find(needle, s, e)
                else:
                    j = bisect_left(positions, s)
                    if j == len(positions):
                        continue
                    i = positions[j]
                    if i + len(needle) > e:
                        continue
                if i < 0:
                    continue
                findings.append(self._content_hit(k, path, blob, buf, s, e, i))
        if buf.find(b"\0", s, s + TEXT_SNIFF if e - s > TEXT_SNIFF else e) < 0:
            if self.strict or not in_package_tree(path):
                text_rules = PATTERN_RULES
                if self.fragments:
                    self._wrapped(buf, s, e, path, blob, findings, set())
            else:
                text_rules = self.package_rules
            self._patterns(buf, s, e, text_rules, path, blob, findings, set(), {}, result)
        file_rules = self._file_rules_for(path, e - s)
        collected = bytes(buf[s : min(e, s + COLLECT_LIMIT)]) if file_rules else b""
        self._finish_file(path, member, blob, file_rules, collected, findings, before, result)

    def _finish_file(self, path, member, blob, file_rules, collected, findings, before, result):
        """Apply the path-based file rules to the collected head of the file, then cap the
        file's findings (the rest becomes a note)."""
        for rule in file_rules:
            self._check_file_rule(
                rule, collected, "/" + printable(path), member.size, blob, findings
            )
        if len(findings) - before > MAX_FINDINGS_PER_FILE:
            extra = len(findings) - before - MAX_FINDINGS_PER_FILE
            del findings[before + MAX_FINDINGS_PER_FILE :]
            result.notes.append(
                f"/{printable(path)}: {extra} more finding(s) in this file not listed"
            )

    def scan_pax(self, member, blob: str | None) -> list[Finding]:
        """Canaries and pattern rules in every pax record of a member (xattrs, uname, comment,
        vendor keys...), key and value; a record that became the member's name or link target
        is left to the name and link checks.  Location: ``pax:KEY``."""
        findings: list[Finding] = []
        name_filter = self.name_filter
        used = (member.raw_name, member.linkname.encode("utf-8", "surrogateescape"))
        path = "/" + printable(member.name)
        if self.strict or not in_package_tree(member.name):
            rules = PATTERN_RULES
        else:
            rules = self.package_rules
        for key, value in member.pax or ():
            if value in used and key in (b"path", b"linkpath", b"GNU.sparse.name"):
                continue
            shown = printable(key.decode("utf-8", "surrogateescape"))
            if len(shown) > 120:
                shown = shown[:117] + "..."
            location = f"pax:{shown}"
            data = key + b"=" + value
            if name_filter is not None and name_filter.search(data):
                for index, name in self.canaries_in_text(data):
                    label = self.canaries.canaries[index].label
                    findings.append(
                        Finding(
                            "canary",
                            path,
                            f"{label} found in the pax record {shown} ({name})",
                            location=location,
                            blob=blob,
                        )
                    )
            if value.translate(None, b"0123456789.-").strip():  # not a number (mtime, uid...)
                findings += self.pattern_findings(
                    data, path, f"the pax record {shown}", location, blob, rules
                )
        return findings

    def _scan_link(self, member, blob: str, result: LayerResult) -> None:
        link = member.linkname.encode("utf-8", "surrogateescape")
        path = "/" + printable(member.name)
        for index, name in self.canaries_in_text(link):
            label = self.canaries.canaries[index].label
            result.findings.append(
                Finding(
                    "canary",
                    path,
                    f"{label} found in a {member.kind} target ({name})",
                    location="link",
                    blob=blob,
                )
            )
        result.findings += self.pattern_findings(
            link, path, f"a {member.kind} target", "link", blob,
            [r for r in PATTERN_RULES if r.id == "url-credentials"],
        )  # fmt: skip

    def _file_rules_for(self, path: str, size: int):
        rules = FILE_RULES_BY_NAME.get(path[path.rfind("/") + 1 :])
        if rules:
            parent = path.rpartition("/")[0]
            rules = [r for r in rules if _parent_ok(r, parent)]
        if size > 0 and path.startswith(UNDER_PREFIXES):
            rules = list(rules or ()) + [r for r in FILE_RULES_UNDER if path.startswith(r.under)]
        return rules or ()

    def _scan_file(self, member, stream: TarStream, blob: str, result: LayerResult) -> None:
        if member.size == 0:
            return
        path = member.name
        file_rules = self._file_rules_for(path, member.size)
        wrapped: set[int] | None = None  # canaries found line-wrapped (None: not searched)
        if self.strict or not in_package_tree(path):
            text_rules = PATTERN_RULES
            if self.fragments:
                wrapped = set()
        else:
            text_rules = self.package_rules
        needles = self.needles
        if member.size > ENCODED_BINARY_LIMIT and not self.strict:
            needles = None  # decided on the first piece: text files keep every needle
        found_needles: set[int] | None = None
        found_patterns: set[tuple[str, bytes]] = set()
        findings = result.findings
        before = len(findings)
        collected = bytearray() if file_rules else None
        overlap = self.overlap
        tail = b""
        carry = b""
        text = None
        candidates: dict[str, int] = {}
        for buf, s, e in stream.pieces():
            if text is None:
                text = buf.find(b"\0", s, s + TEXT_SNIFF if e - s > TEXT_SNIFF else e) < 0
                if needles is None:
                    needles = self.needles if text else self.plain_needles
            if collected is not None and len(collected) < COLLECT_LIMIT:
                collected += buf[s : min(e, s + COLLECT_LIMIT - len(collected))]
            # canaries, on every byte
            for k, needle in enumerate(needles):
                if needle is None or (found_needles and k in found_needles):
                    continue
                i = buf.find(needle, s, e)
                if i >= 0:
                    hit, lo, hi = buf, s, e
                elif tail:
                    joint = tail + bytes(buf[s : s + len(needle) - 1])
                    j = joint.find(needle)
                    if not 0 <= j < len(tail) < j + len(needle):
                        continue
                    hit, lo, hi, i = joint, 0, len(joint), j
                else:
                    continue
                if found_needles is None:
                    found_needles = set()
                found_needles.add(k)
                findings.append(self._content_hit(k, path, blob, hit, lo, hi, i))
            # patterns, on text files
            if text:
                # the carried tail of the previous piece lets matches span the boundary
                if carry:
                    data = carry + bytes(buf[s:e])
                    lo, hi = 0, len(data)
                else:
                    data, lo, hi = buf, s, e
                if wrapped is not None:
                    self._wrapped(data, lo, hi, path, blob, findings, wrapped)
                self._patterns(
                    data, lo, hi, text_rules, path, blob, findings, found_patterns, candidates,
                    result,
                )  # fmt: skip
            if stream.remaining:
                if overlap:
                    tail = bytes(buf[max(s, e - overlap) : e])
                if text:
                    carry = bytes(buf[max(s, e - OVERLAP) : e])
        self._finish_file(path, member, blob, file_rules, collected, findings, before, result)

    def _patterns(self, buf, s, e, rules, shown, blob, findings, found, candidates, result):
        for rule in rules:
            # most texts hold no candidate at all: one search per keyword or locator says so
            for keyword in rule.keywords:
                if buf.find(keyword, s, e) >= 0:
                    break
            else:
                if rule.locator is None or rule.locator.search(buf, s, e) is None:
                    continue
            positions = _find_all(buf, rule.keywords, s, e)
            if rule.locator is not None:
                located = (m.start() for m in rule.locator.finditer(buf, s, e))
                positions = itertools.chain(located, positions) if rule.keywords else located
            regex = rule.regex
            for p in positions:
                count = candidates.get(rule.id, 0) + 1
                candidates[rule.id] = count
                if count > MAX_CANDIDATES:
                    result.notes.append(
                        f"/{printable(shown)}: more than {MAX_CANDIDATES} candidates for "
                        f"{rule.id}; the rest of the file was not checked by that rule"
                    )
                    break
                m = regex.match(buf, p, min(e, p + rule.max_length))
                if m is None:
                    continue
                secret = m.group("secret")
                key = (rule.id, secret)
                if key in found:
                    continue
                if self._placeholder(rule, secret.decode("utf-8", "replace"), m):
                    continue
                found.add(key)
                findings.append(
                    Finding(
                        rule.id,
                        "/" + printable(shown),
                        rule.title,
                        excerpt=self._pattern_excerpt(buf, s, e, m),
                        blob=blob,
                    )
                )

    def _check_file_rule(self, rule: Rule, collected, shown, size, blob, findings) -> None:
        if rule.content is None:
            findings.append(Finding(rule.id, shown, f"{rule.title} ({size} bytes)", blob=blob))
            return
        data = bytes(collected or b"")
        for m in rule.content.finditer(data):
            secret = m.group("secret").decode("utf-8", "replace")
            if is_placeholder(secret):
                continue
            findings.append(
                Finding(
                    rule.id,
                    shown,
                    rule.title,
                    excerpt=self._pattern_excerpt(data, 0, len(data), m),
                    blob=blob,
                )
            )
            return

    # -- configs, attestations, other JSON --------------------------------------------------
    def scan_json(self, doc, pseudo: str, location: str, blob: str | None) -> list[Finding]:
        """Apply canaries, patterns and secret-variable checks to every string of a JSON doc."""
        findings: list[Finding] = []
        for path, key, value in _walk(doc, pseudo):
            data = value.encode("utf-8", "surrogateescape")
            shown = printable(path)
            for index, name in self.canaries_in_text(data):
                label = self.canaries.canaries[index].label
                findings.append(
                    Finding(
                        "canary",
                        shown,
                        f"{label} found in {location} ({name})",
                        excerpt=self._canary_excerpt(value),
                        location=location,
                        blob=blob,
                    )
                )
            findings += self.pattern_findings(data, shown, location, location, blob)
            for name, secret in _assignments(key, value):
                if _secret_variable(name, secret):
                    self.scrub.add(secret)
                    findings.append(
                        Finding(
                            "secret-variable",
                            shown,
                            f"variable {name} holds a literal secret in {location}",
                            excerpt=self.scrub(f"{name}={redaction.MASK}"),
                            location=location,
                            blob=blob,
                        )
                    )
        return findings

    def _canary_excerpt(self, value: str) -> str:
        text = value
        for variant, _, _ in self.canaries.variants:
            v = variant.decode("utf-8", "surrogateescape")
            if len(v) >= 6 and v in text:
                text = text.replace(v, "[CANARY]")
        data = text.encode("utf-8", "surrogateescape")
        i = data.find(b"[CANARY]")
        if i < 0:
            return "[CANARY]"
        return redaction.excerpt(data, 0, len(data), i, i + 8, marker="[CANARY]", whole_token=True)


def _find_all(buf, keywords, s, e):
    for keyword in keywords:
        i = buf.find(keyword, s, e)
        while i >= 0:
            yield i
            i = buf.find(keyword, i + 1, e)


def _walk(doc, path: str, key: str = ""):
    """Yield (json path, key, string) for every string (and key) of a JSON document."""
    stack = [(doc, path, key)]
    while stack:
        node, where, key = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                k = str(k)
                yield f"{where}/{k}", "", k
                stack.append((v, f"{where}/{k}", k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                stack.append((v, f"{where}/{i}", key))
        elif isinstance(node, str):
            yield where, key, node


def _assignments(key: str, value: str):
    """(name, value) pairs a string assigns: KEY=VALUE texts, build args, JSON keys."""
    if key:
        name = key.rpartition(":")[2] if key.startswith(("build-arg:", "label:")) else key
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name):
            yield name, value
    if "=" in value:
        whole = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", value, re.S)
        if whole:  # an Env entry: everything after the first '=' is the value
            yield whole.group(1), whole.group(2)
        for m in KV.finditer(value):
            secret = m.group(2)
            if len(secret) >= 2 and secret[0] == secret[-1] and secret[0] in "\"'":
                secret = secret[1:-1]
            yield m.group(1), secret


def _secret_variable(name: str, value: str) -> bool:
    upper = name.upper().replace("-", "_").replace(".", "_")
    if not SECRET_NAME.search(upper) or NOT_SECRET_NAME.search(upper):
        return False
    if upper in ("NETRC", "NET_RC") or upper.endswith("_NETRC"):
        # NETRC names a file; it is a leak only when it holds netrc text
        words = set(value.split())
        return "password" in words or ("login" in words and "machine" in words)
    v = value.strip()
    if v.startswith(("/", "./", "~/", "file:")) and " " not in v:
        return False  # a path to a secret file, not the secret
    return not is_placeholder(v)


def attribute(findings, layers, history) -> None:
    """Fill layer numbers, history steps and deletions into findings (in place).

    ``layers`` is a list of (blob key, LayerResult) in image order; ``history`` the created_by
    text of each layer (or None).
    """
    index_of = {}
    for i, (key, _) in enumerate(layers):
        index_of.setdefault(key, i)
    for finding in findings:
        if finding.blob in index_of and finding.layer is None:
            i = index_of[finding.blob]
            finding.layer = i
            finding.created_by = history[i] if i < len(history) else None
        if finding.layer is None or (
            finding.location not in ("file", "name", "link")
            and not finding.location.startswith("pax:")
        ):
            continue
        path = finding.path.lstrip("/")
        for j in range(finding.layer + 1, len(layers)):
            later = layers[j][1]
            if _deleted(path, later.whiteouts, later.opaque):
                finding.deleted_in = j
                finding.deleted_by = history[j] if j < len(history) else None
                break


def _deleted(path: str, whiteouts: set[str], opaque: set[str]) -> bool:
    if not whiteouts and not opaque:
        return False
    parts = path.split("/")
    for n in range(len(parts), 0, -1):
        prefix = "/".join(parts[:n])
        if prefix in whiteouts:
            return True
        if n < len(parts) and prefix in opaque:
            return True
    return "" in opaque and len(parts) > 0
