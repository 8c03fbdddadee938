"""Ask the private index for each required project with the netrc credential, and name the
cause when it cannot serve the install: the credential refused (401/403), a project it does not
have (404), or no answer at all. pip alone reports each of these as "No matching distribution
found", after its retries.

It runs twice, standard library only: on the host, called by the build task before the engine
starts (a wrong or rotated password fails in seconds, even when the engine would have served the
install step from its cache); and inside the image's install step, bind-mounted beside the
mounted secret, for builders whose network differs from the host's. Redirects are not followed,
so the credential goes to the index host and nowhere else. It prints no credential.

Its `opener` is the tasks' one HTTP door for a credential (the registry client and the local
index use it too), and `is_loopback` is defined here alone. The Dockerfile mounts this one file
into the build, so it imports nothing of image_tasks and runs on a base image's Python 3.9+.

usage (in the image, where the Dockerfile mounts it as index_probe.py):
    python3 index_probe.py INDEX_URL REQUIREMENTS_FILE   (NETRC: the netrc)
"""

from __future__ import annotations  # base images may run Python 3.9

import base64
import ipaddress
import netrc
import os
import re
import ssl
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
TIMEOUT = 30


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises HTTPError with the 3xx status


def is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def opener(url: str) -> urllib.request.OpenerDirector:
    """The one way the tasks send a credential over HTTP: no redirect is followed, and a URL on
    loopback bypasses any proxy the environment names (plain http through a proxy would hand it
    the credential in clear)."""
    direct = [urllib.request.ProxyHandler({})] if is_loopback(urlsplit(url).hostname or "") else []
    return urllib.request.build_opener(NoRedirects, *direct)


def projects(requirements: str) -> list[str]:
    """Normalised project names of a requirements file's text; comments, blank lines and
    option lines are skipped."""
    names = []
    for line in requirements.splitlines():
        match = NAME.match(line.split("#", 1)[0].strip())
        if match:
            names.append(re.sub(r"[-_.]+", "-", match[0]).lower())
    return names


def problem(index_url: str, names: list[str], login: str, password: str) -> str | None:
    """Why the index cannot serve these projects to this credential, or None when it can (or
    when only the installer can tell: a redirect, or TLS it may verify differently)."""
    parts = urlsplit(index_url)
    host = parts.hostname or ""
    where = f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    http = opener(index_url)
    for name in names:
        url = f"{index_url.rstrip('/')}/{name}/"
        request = urllib.request.Request(url, headers=headers)  # noqa: S310
        try:
            http.open(request, timeout=TIMEOUT).close()
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                # A login without a password may itself be the token (Gemfury, packagecloud),
                # so an entry missing one is named only once the index refuses it.
                fields = (("login", login), ("password", password))
                missing = " and ".join(field for field, value in fields if not value)
                if missing:
                    return (
                        f"the netrc entry has no {missing} for {host}, and the index refused it "
                        f"(HTTP {error.code} {error.reason}): complete the entry, "
                        f"'machine {host} login USER password SECRET'"
                    )
                return (
                    f"the index answered HTTP {error.code} ({error.reason}) for {login!r} at "
                    f"{host}: the credential is wrong or expired, or lacks read access to {name!r}"
                )
            if error.code == 404:
                return not_found(http, index_url, headers, name)
            if error.code >= 500:
                return f"the index {host} failed with HTTP {error.code} ({error.reason}) for {url}"
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, ssl.SSLError):
                return None  # the installer's own trust store decides
            detail = getattr(reason, "strerror", None) or str(reason)
            return f"cannot reach {where} ({detail.lower()})"
        except OSError as error:
            return f"cannot reach {where} ({(error.strerror or str(error)).lower()})"
    return None


def not_found(
    http: urllib.request.OpenerDirector, index_url: str, headers: dict[str, str], name: str
) -> str:
    """A project the index answers 404 for: is it the project's name, or the index URL's path?
    An index serves a page of projects (HTTP 200) at its own URL: anything else there means the
    path is wrong (a typo such as /simpel/), whatever the project."""
    host = urlsplit(index_url).hostname or ""
    try:
        http.open(urllib.request.Request(index_url, headers=headers), timeout=TIMEOUT).close()  # noqa: S310
    except urllib.error.HTTPError as error:
        there = (
            f"answered HTTP 404 for {index_url} itself, not only for {name!r}"
            if error.code == 404
            else f"serves no index at {index_url} (HTTP {error.code} there, and 404 for {name!r})"
        )
        return (
            f"the index URL's path is wrong: {host} {there}. Check the private index URL "
            "(private-index-url in pyproject.toml, or PRIVATE_INDEX_URL)"
        )
    except OSError:
        pass  # the index's own URL could not tell: the project's 404 stands
    url = f"{index_url.rstrip('/')}/{name}/"
    return (
        f"{name!r} is not on the index {host} (HTTP 404 for {url}, while the index itself "
        "answers): check the name in requirements.txt, and that the index proxies PyPI if it "
        "is public"
    )


def main(index_url: str, requirements_file: str) -> int:
    """The install step's check: the mounted netrc (NETRC) against the index."""
    host = urlsplit(index_url).hostname or ""
    path = os.environ.get("NETRC", "")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except OSError as error:
        print(
            f"index_probe: cannot read the mounted netrc {path} ({error.strerror}): the secret "
            "mount's uid and gid must be the user this RUN step runs as.",
            file=sys.stderr,
        )
        return 1
    except netrc.NetrcParseError as error:
        print(f"index_probe: the netrc does not parse (line {error.lineno}).", file=sys.stderr)
        return 1
    if entry is None:
        print(f"index_probe: the mounted netrc has no entry for {host}.", file=sys.stderr)
        return 1
    with open(requirements_file, encoding="utf-8") as handle:
        names = projects(handle.read())
    login, _, password = entry
    found = problem(index_url, names, login or "", password or "")
    if found:
        print(f"index_probe: {found}.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
