"""Ask the private index for each required project with the mounted netrc, before the install.

pip reports an index that refuses the credential as "No matching distribution found", which
sends people hunting for a missing package. This runs inside the same RUN step (the secret is
mounted) and turns a 401 or 403 into a plain message. Any other answer, a redirect, or no answer
is left to the installer: redirects are not followed, so the credential goes to the index host
and nowhere else. Standard library only; prints no credential.

usage: python3 check_index.py INDEX_URL REQUIREMENTS_FILE   (NETRC names the mounted netrc)
"""

from __future__ import annotations  # base images may run Python 3.9

import base64
import netrc
import os
import re
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises HTTPError with the 3xx status


def projects(requirements_file: str) -> list[str]:
    """Normalised project names; comments, blank lines and option lines are skipped."""
    names = []
    with open(requirements_file, encoding="utf-8") as handle:
        for line in handle:
            match = NAME.match(line.split("#", 1)[0].strip())
            if match:
                names.append(re.sub(r"[-_.]+", "-", match[0]).lower())
    return names


def credential(host: str) -> str | None:
    """The Basic credential for host, or None after saying why there is none."""
    path = os.environ.get("NETRC", "")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except OSError as error:
        print(
            f"check_index: cannot read the mounted netrc {path} ({error.strerror}): the secret "
            "mount's uid and gid must be the user this RUN step runs as.",
            file=sys.stderr,
        )
        return None
    except netrc.NetrcParseError as error:
        print(f"check_index: the netrc does not parse (line {error.lineno}).", file=sys.stderr)
        return None
    if entry is None:
        print(f"check_index: the mounted netrc has no entry for {host}.", file=sys.stderr)
        return None
    login, _, password = entry
    return base64.b64encode(f"{login}:{password}".encode()).decode()


def main(index_url: str, requirements_file: str) -> int:
    host = urlsplit(index_url).hostname or ""
    token = credential(host)
    if token is None:
        return 1
    opener = urllib.request.build_opener(NoRedirects)
    for project in projects(requirements_file):
        url = f"{index_url.rstrip('/')}/{project}/"
        headers = {"Authorization": f"Basic {token}"}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - the index URL
        try:
            opener.open(request, timeout=30).close()
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                print(
                    f"check_index: the index answered HTTP {error.code} ({error.reason}) for "
                    f"{url}: the netrc credential for {host} is wrong, expired, or lacks read "
                    "access to this project.",
                    file=sys.stderr,
                )
                return 1
        except (urllib.error.URLError, OSError):
            return 0  # unreachable, or TLS the installer may handle differently: let it say
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
