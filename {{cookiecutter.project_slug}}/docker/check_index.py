"""Ask the private index for each required project with the mounted netrc, before the install.

pip reports an index that refuses the credential as "No matching distribution found", which
sends people hunting for a missing package. This runs inside the same RUN step (the secret is
mounted) and turns a 401 or 403 into a plain message. Any other answer, or no answer, is left to
the installer. Standard library only; prints no credential.

usage: python3 check_index.py INDEX_URL REQUIREMENTS_FILE   (NETRC names the mounted netrc)
"""

import base64
import netrc
import os
import re
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def projects(requirements_file: str) -> list[str]:
    with open(requirements_file, encoding="utf-8") as handle:
        lines = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    return [re.sub(r"[-_.]+", "-", NAME.match(line)[0]).lower() for line in lines]


def main(index_url: str, requirements_file: str) -> int:
    host = urlsplit(index_url).hostname
    try:
        entry = netrc.netrc(os.environ["NETRC"]).authenticators(host)
    except (KeyError, OSError, netrc.NetrcParseError):
        entry = None
    if entry is None:
        print(f"check_index: the mounted netrc has no entry for {host}.", file=sys.stderr)
        return 1
    login, _, password = entry
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    for project in projects(requirements_file):
        url = f"{index_url.rstrip('/')}/{project}/"
        headers = {"Authorization": f"Basic {token}"}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - the index URL
        try:
            urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 - the index URL
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
