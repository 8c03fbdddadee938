"""Find the netrc holding the private index credential, and hand it on without ever printing it.

Looked up in order: an explicit path, NETRC (a path), NET_RC (the file's contents, as CI passes
the repository secret), ~/.netrc. The credential reaches the engine as a BuildKit secret whose
source is that file (``src=``) or that variable (``env=``): it is never copied, never put on a
command line and never printed.
"""

import netrc
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from image_tasks.errors import TaskError

CONTENTS_VARIABLE = "NET_RC"

WAYS = (
    "give it one of four ways: the --netrc PATH option; NETRC=PATH; NET_RC holding the file's "
    'contents (as CI does: `export NET_RC="$(cat FILE)"`); or ~/.netrc. The file holds '
    "'machine HOST login USER password SECRET' for the index host and should be mode 600"
)


@dataclass(frozen=True)
class Credential:
    """Where the netrc is: a file (path) or an environment variable holding its text (variable)."""

    origin: str
    path: Path | None = None
    variable: str | None = None

    def secret_source(self) -> str:
        """The source half of a BuildKit ``--secret`` value: a path or a variable name."""
        return f"src={self.path}" if self.path else f"env={self.variable}"

    def text(self) -> str:
        if self.variable:
            return os.environ.get(self.variable, "")
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise TaskError(
                f"The netrc from {self.origin} cannot be read ({error.__class__.__name__}: "
                f"{error.strerror or 'not UTF-8 text'}). Fix its permissions or {WAYS}."
            ) from None


def resolve(explicit: str | os.PathLike | None, index_url: str) -> Credential:
    """The credential for this run, or a TaskError naming the four ways to give one."""
    if explicit:
        return _file(Path(explicit).expanduser(), "the --netrc option")
    if os.environ.get("NETRC"):
        return _file(Path(os.environ["NETRC"]).expanduser(), "NETRC")
    if os.environ.get(CONTENTS_VARIABLE, "").strip():
        return Credential(origin=CONTENTS_VARIABLE, variable=CONTENTS_VARIABLE)
    home = Path.home() / ".netrc"
    if home.exists():
        return _file(home, "~/.netrc")
    host = urlsplit(index_url).hostname or "HOST"
    raise TaskError(
        f"No credential for the private index {host} was found: "
        + WAYS.replace("machine HOST", f"machine {host}").replace("the index host", host)
        + "."
    )


def _file(path: Path, origin: str) -> Credential:
    if not path.is_file():
        raise TaskError(f"The netrc named by {origin} ({path}) is not a file: {WAYS}.")
    if not os.access(path, os.R_OK):
        raise TaskError(f"The netrc named by {origin} ({path}) is not readable: {WAYS}.")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"warning: {path} is readable by other users; `chmod 600 {path}`.", file=sys.stderr)
    return Credential(origin=f"{origin} ({path})", path=path)


def login_for(credential: Credential, index_url: str) -> tuple[str, str]:
    """The (login, password) the netrc holds for the index host; a TaskError before the build
    when it does not parse or has no entry for that host."""
    host = urlsplit(index_url).hostname or ""
    entry = parsed(credential).authenticators(host)
    if entry is None:
        raise TaskError(
            f"The netrc from {credential.origin} has no entry for the index host {host!r} (and no "
            f"'default' entry). Add 'machine {host} login USER password SECRET' to it."
        )
    login, _, password = entry
    return login or "", password or ""


def passwords(credential: Credential) -> list[str]:
    """Every password the netrc holds: what a build can mount, what its audit must look for."""
    return [password for _, _, password in parsed(credential).hosts.values() if password]


def parsed(credential: Credential) -> netrc.netrc:
    """The netrc, parsed with the standard library's netrc module, as pip (through requests)
    parses it. Its errors quote the offending token, which may be a password: only the line
    number is passed on."""
    try:
        return _parse(credential)
    except (OSError, UnicodeDecodeError) as error:
        raise TaskError(
            f"The netrc from {credential.origin} cannot be read as text "
            f"({error.__class__.__name__}). It must be a UTF-8 text file: {WAYS}."
        ) from None
    except netrc.NetrcParseError as error:
        raise TaskError(
            f"The netrc from {credential.origin} does not parse (near line {error.lineno}). "
            "Each entry reads 'machine HOST login USER password SECRET'."
        ) from None


PIPE_SAFE = 16_000  # bytes a pipe takes before a write blocks, on every platform (macOS: 16 KiB)


def _parse(credential: Credential) -> netrc.netrc:
    if credential.path:
        return netrc.netrc(credential.path)
    # The parser reads only paths: hand it the variable's text through a pipe, never a file.
    data = credential.text().encode()
    if len(data) > PIPE_SAFE:  # no netrc is that long
        raise TaskError(f"{credential.origin} is far larger than a netrc; check what it holds.")
    read, write = os.pipe()
    try:
        try:
            os.write(write, data)
        finally:
            os.close(write)
        return netrc.netrc(f"/dev/fd/{read}")
    finally:
        os.close(read)
