"""What a private index URL may be, checked before it reaches a Dockerfile, a build argument or
a log; and how one is shown. Nothing here echoes a value that could hold a secret: index URLs are
shown with their userinfo and query removed."""

from urllib.parse import urlsplit

from image_tasks.errors import TaskError
from image_tasks.index.probe import is_loopback


def redact_url(url: str) -> str:
    """The URL with any userinfo, query and fragment replaced, safe to print."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return "***"  # not a URL: no telling where a credential would sit in it
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    userinfo = "***@" if "@" in parts.netloc else ""
    tail = "?***" if parts.query or parts.fragment else ""
    return f"{parts.scheme}://{userinfo}{host}{parts.path}{tail}"


def check_index_url(url: str) -> str:
    """Refuse an index URL that carries credentials, is not http(s), or is plain http off-host."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise TaskError(
            "The private index URL is malformed. Give the index's simple URL, for example "
            "'https://nexus.example.com/repository/pypi-group/simple/'."
        ) from None
    if "://" not in url:
        raise TaskError(_schemeless_index_url(url.strip()))
    shown = redact_url(url)
    if "@" in parts.netloc:
        raise TaskError(
            f"The private index URL carries credentials ({shown}): anything in the URL ends up in "
            "the Dockerfile, the build arguments, the image history and CI logs. Give the URL "
            "without 'user:password@' and put the credentials in ~/.netrc instead "
            "('machine HOST login USER password SECRET', mode 600); the build mounts it as a "
            "BuildKit secret. Treat the credential you typed as exposed and rotate it."
        )
    if parts.query or parts.fragment:
        raise TaskError(
            f"The private index URL has a query or fragment ({shown}), a common place for tokens. "
            "Give the plain simple URL and put credentials in ~/.netrc."
        )
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise TaskError(
            f"The private index URL {shown} is not an http(s) URL. Give the index's simple URL, "
            "for example 'https://nexus.example.com/repository/pypi-group/simple/'."
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise TaskError(
            f"The private index URL {shown} uses plain http to a remote host, which would send "
            "the netrc password in clear text. Use https (plain http is accepted only for an "
            "index on loopback, such as the local index session)."
        )
    return url.strip()


def _schemeless_index_url(text: str) -> str:
    if "@" in text or "?" in text:  # echo nothing that may be a credential
        return (
            "The private index URL has no scheme and carries what looks like credentials ('@' "
            "or a query). Give the plain simple URL, for example "
            "'https://nexus.example.com/repository/pypi-group/simple/', and put the credentials "
            "in ~/.netrc."
        )
    return (
        f"The private index URL {text!r} has no scheme. Write it in full, for example "
        f"'https://{text.lstrip('/')}'."
    )
