"""Ask the private index for each required project with the netrc credential, and name the
cause when it cannot serve the install: the credential refused (401/403), a project it does not
have (404), a project it sends to another origin (a redirect: dependency confusion), or no
answer at all. pip alone reports the first three as "No matching distribution found", after its
retries, and follows the redirect.

It runs twice, standard library only: on the host, called by the build task before the engine
starts (a wrong or rotated password fails in seconds, even when the engine would have served the
install step from its cache); and inside the image's install step, bind-mounted beside the
mounted secret, for builders whose network differs from the host's. A redirect is followed
only within the index's own origin (a trailing slash, a normalised name), so the credential goes
to the index host and nowhere else; one to any other origin is the answer. It prints no
credential.

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
import urllib.parse
import urllib.request
from urllib.parse import urlsplit

NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
TIMEOUT = 30
HOPS = 5  # redirects followed within the index's origin
CONFUSION = (
    "whoever publishes that name there would be installed (dependency confusion). Make the "
    "index serve every name itself, proxying public PyPI: a Nexus group, an Artifactory virtual "
    "repository, or pypiserver with --disable-fallback"
)


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


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def ask(http: urllib.request.OpenerDirector, url: str, token: str) -> str | None:
    """GET url with the credential, following redirects within its origin; None when the index
    answers itself, else where (and with which status) it sends the request instead. HTTP
    errors are raised."""
    for _ in range(HOPS):
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})  # noqa: S310
        try:
            http.open(request, timeout=TIMEOUT).close()
            return None
        except urllib.error.HTTPError as error:
            location = error.headers.get("Location") if 300 <= error.code < 400 else None
            if not location:
                raise
            target = urllib.parse.urljoin(url, location)
            if origin(target) != origin(url):
                return f"{target} (HTTP {error.code})"
            url = target
    return f"{url} and on, redirect after redirect"


def problem(index_url: str, names: list[str], login: str, password: str) -> str | None:
    """Why the index cannot serve these projects to this credential, or None when it can (or
    when only the installer can tell: TLS it may verify differently)."""
    parts = urlsplit(index_url)
    host = parts.hostname or ""
    where = f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    http = opener(index_url)
    for name in names:
        url = f"{index_url.rstrip('/')}/{name}/"
        try:
            elsewhere = ask(http, url, token)
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                # A login without a password may itself be the token (Gemfury, packagecloud).
                who = f"for {login!r} " if login and password else ""
                return (
                    f"the index answered HTTP {error.code} ({error.reason}) {who}at {host}: "
                    f"the credential is wrong or expired, or lacks read access to {name!r}"
                )
            if error.code == 404:
                return (
                    f"{name!r} is not on the index {host} (HTTP 404 for {url}): check the "
                    "name in requirements.in, and that the index proxies PyPI if it is public"
                )
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
        if elsewhere:
            sent = f"the index {host} sends {name!r} to {elsewhere} instead of serving it"
            return f"{sent}: {CONFUSION}"
    return None


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
