"""The distribution API of one repository: reading a manifest back, and pushing by content.

Read back after a push, to check what the registry serves: the manifest's digest (what a
deployment pins) and the config digest of each platform image it names (what the audit
recorded). Pushing (`registry.push`) uploads blobs and puts manifests. The engine's own login
authenticates (`login`): HTTP Basic, or a Bearer token from the registry's token service. A
registry on loopback is spoken to over plain http, as the engines do for localhost; any other
needs https, verified. Redirects are never followed with a credential. A refusal names its
cause: no login, a login refused, the registry out of reach, or TLS. Standard library only.
"""

import base64
import hashlib
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from image_tasks import validation
from image_tasks.errors import TaskError
from image_tasks.index.probe import is_loopback, opener, origin
from image_tasks.registry import login as stored_login

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
MAX_MANIFEST = 4 << 20
TIMEOUT = 60


@dataclass(frozen=True)
class Reference:
    host: str  # registry host[:port], as the engines name it (docker.io for Docker Hub)
    repository: str  # path inside the registry: acme/ray-runtime
    tag: str

    @classmethod
    def parse(cls, reference: str) -> "Reference":
        match = validation.IMAGE_REFERENCE.fullmatch(reference)
        if match is None or match["digest"]:
            raise TaskError(
                f"{reference!r} is not a tagged image reference (registry/path:tag); publish "
                "pushes a tag and reads back the digest the registry gives it."
            )
        first, _, rest = match["name"].partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            host, repository = first, rest
        else:  # Docker's rule: no registry host means Docker Hub
            host, repository = "docker.io", match["name"]
            if "/" not in repository:
                repository = f"library/{repository}"
        return cls(host, repository, match["tag"] or "latest")

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    @property
    def tagged(self) -> str:
        return f"{self.name}:{self.tag}"

    @property
    def base_url(self) -> str:
        host = "registry-1.docker.io" if self.host == "docker.io" else self.host
        plain = is_loopback(urllib.parse.urlsplit(f"//{host}").hostname or "")
        return f"{'http' if plain else 'https'}://{host}/v2/{self.repository}"


@dataclass(frozen=True)
class Manifest:
    digest: str  # sha256:... of the bytes the registry served
    media_type: str
    config_digests: tuple[str, ...]  # one per platform image (attestations left out)


class Client:
    """One repository of a registry, authenticating once per run: reads manifests back and,
    made with push=True, uploads blobs and puts manifests (`registry.push`)."""

    def __init__(self, reference: Reference, engine: str, *, push: bool = False) -> None:
        self.reference = reference
        self.engine = engine
        self.push = push
        self.authorization: str | None = None
        self.login_sent = False  # a login went with the request a registry refused
        self.doing = "pushing to" if push else "reading back"

    def manifest(self, reference: str | None = None) -> Manifest:
        """The manifest a tag (or digest) names and, for an index, each platform manifest's
        config digest."""
        raw, media_type = self._manifest_bytes(reference or self.reference.tag)
        document = _json(raw, reference or self.reference.tag)
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if media_type in INDEX_TYPES or "manifests" in document:
            configs = []
            for entry in document.get("manifests") or ():
                digest = entry.get("digest") if isinstance(entry, dict) else None
                if not isinstance(digest, str) or not digest.startswith("sha256:"):
                    raise self._fail("served an index with an entry that has no sha256 digest")
                annotations = entry.get("annotations") or {}
                if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
                    continue
                child, _ = self._manifest_bytes(digest)
                if "sha256:" + hashlib.sha256(child).hexdigest() != digest:
                    raise self._fail(f"served a manifest that does not match {digest}")
                configs.append(_config_digest(_json(child, digest)))
            return Manifest(digest, media_type, tuple(configs))
        return Manifest(digest, media_type, (_config_digest(document),))

    def has_blob(self, digest: str) -> bool:
        status, _, _ = self._send("HEAD", f"blobs/{digest}", ok=(200, 307, 404))
        return status != 404  # 307: the registry keeps it behind a CDN

    def upload_blob(self, digest: str, size: int, path) -> None:
        """POST an upload, then PUT the whole blob to the place the registry named."""
        _, headers, _ = self._send("POST", "blobs/uploads/", data=b"", ok=(202,))
        location = urllib.parse.urljoin(f"{self.reference.base_url}/", headers.get("Location", ""))
        if origin(location) != origin(self.reference.base_url):
            raise self._fail("sends uploads to another host, where the login is not sent")
        separator = "&" if "?" in location else "?"
        with open(path, "rb") as body:
            self._send(
                "PUT", f"{location}{separator}digest={urllib.parse.quote(digest)}", data=body,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                ok=(201,),
            )  # fmt: skip

    def put_manifest(self, reference: str, raw: bytes, media_type: str) -> None:
        """PUT the manifest under a digest (a reference no tag names) or a tag."""
        headers = {"Content-Type": media_type}
        self._send("PUT", f"manifests/{reference}", data=raw, headers=headers, ok=(201,))

    # -- HTTP ------------------------------------------------------------------------------
    def _manifest_bytes(self, reference: str) -> tuple[bytes, str]:
        _, headers, raw = self._send(
            "GET", f"manifests/{reference}", headers={"Accept": ACCEPT}, limit=MAX_MANIFEST
        )
        return raw, headers.get_content_type()

    def _send(self, method, where, *, data=None, headers=None, ok=(200,), limit=1 << 20):
        """(status, headers, body) of a request to the repository's API (where: a path under
        /v2/REPOSITORY/, or a full URL); a 401's challenge is answered once."""
        url = where if "://" in where else f"{self.reference.base_url}/{where}"
        try:
            try:
                return self._open(method, url, data, headers or {}, limit)
            except urllib.error.HTTPError as error:
                challenge = error.headers.get("WWW-Authenticate", "")
                if error.code != 401 or not challenge or self.authorization:
                    raise
                self.authorization = self._authorize(challenge)
                if hasattr(data, "seek"):
                    data.seek(0)
                return self._open(method, url, data, headers or {}, limit)
        except urllib.error.HTTPError as error:
            if error.code in ok:
                return error.code, error.headers, b""
            raise self._http_error(error) from None
        except urllib.error.URLError as error:
            raise self._unreachable(error.reason) from None
        except OSError as error:
            raise self._unreachable(error) from None

    def _open(self, method, url, data, headers, limit):
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        if self.authorization:
            request.add_header("Authorization", self.authorization)
        with opener(request.full_url).open(request, timeout=TIMEOUT) as response:
            raw = response.read(limit + 1)
            if len(raw) > limit:
                raise self._fail(f"answered {method} with more than {limit >> 20} MiB")
            return response.status, response.headers, raw

    def _authorize(self, challenge: str) -> str:
        """The Authorization header a 401's challenge asks for: Basic with the engine's login, or
        a Bearer token from the registry's token service (anonymous without a login)."""
        scheme, _, parameters = challenge.partition(" ")
        login = stored_login.find(self.reference.host, self.reference.repository, self.engine)
        self.login_sent = login is not None
        if scheme.lower() == "basic":
            if login is None or login.identity_token:
                raise self._not_logged_in()
            pair = f"{login.username}:{login.secret}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        if scheme.lower() != "bearer":
            raise self._fail(f"asks for {scheme} authentication, which publish cannot do")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', parameters))
        realm = fields.pop("realm", "")
        if not realm.startswith("https://") and not _loopback_url(realm):
            raise self._fail("names a token service that is not https")
        access = "pull,push" if self.push else "pull"
        fields["scope"] = f"repository:{self.reference.repository}:{access}"
        if login is not None and login.identity_token:  # OAuth2 refresh token, as docker does
            body = urllib.parse.urlencode(
                {**fields, "grant_type": "refresh_token", "refresh_token": login.secret,
                 "client_id": "image-tasks"}
            ).encode()  # fmt: skip
            request = urllib.request.Request(realm, data=body)  # noqa: S310 - https, checked
        else:
            query = urllib.parse.urlencode(fields)
            request = urllib.request.Request(f"{realm}?{query}")  # noqa: S310 - https, checked
            if login is not None:
                pair = f"{login.username}:{login.secret}".encode()
                request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
        try:
            with opener(request.full_url).open(request, timeout=TIMEOUT) as response:
                answer = json.loads(response.read(1 << 20))
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                raise self._not_logged_in(error.code) from None
            raise self._fail(f"'s token service answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError, ValueError):
            raise self._fail("'s token service could not be asked for a token") from None
        if not isinstance(answer, dict):
            raise self._fail("'s token service gave no token")
        token = answer.get("token") or answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise self._fail("'s token service gave no token")
        return f"Bearer {token}"

    # -- errors (never with a credential in them) -------------------------------------------
    def _fail(self, what: str) -> TaskError:
        sep = "" if what.startswith("'") else " "
        return TaskError(
            f"The registry {self.reference.host}{sep}{what}, {self.doing} "
            f"{self.reference.name}. {self._outcome()}"
        )

    def _outcome(self) -> str:
        if self.push:
            return (
                "No tag was moved: the release tags are pointed at the image only once the "
                "registry serves all of it, checked; nothing is recorded as published."
            )
        return (
            "The push may have succeeded, but publish cannot vouch for what the registry serves; "
            "nothing is recorded as published."
        )

    def _not_logged_in(self, status: int | None = None) -> TaskError:
        """No login for the registry, or one it refused: two causes, two messages."""
        tool = "podman" if self.engine == "podman" else "docker"
        host, access = self.reference.host, "push" if self.push else "read"
        if status and self.login_sent:
            return TaskError(
                f"The registry {host} refused the login this engine has for it (HTTP {status}): "
                f"it is wrong or expired, or has no {access} access to {self.reference.repository}."
                f" Log in again with `{tool} login {host}` as an account that may {access} there "
                f"(in CI, docker/login-action), then run publish again. {self._outcome()}"
            )
        return TaskError(
            f"The registry {host} wants a login this engine does not have. Log in with "
            f"`{tool} login {host}` (in CI, docker/login-action), then run publish again. "
            + self._outcome()
        )

    def _http_error(self, error: urllib.error.HTTPError) -> TaskError:
        if error.code in (401, 403):
            return self._not_logged_in(error.code)
        if error.code == 404:
            return self._fail("has no such manifest (HTTP 404)")
        if 300 <= error.code < 400:
            return self._fail(f"redirected (HTTP {error.code}); redirects are not followed")
        return self._fail(f"answered HTTP {error.code}")

    def _unreachable(self, reason) -> TaskError:
        host = self.reference.host
        if isinstance(reason, ssl.SSLError):
            said = getattr(reason, "verify_message", None) or reason.reason or str(reason)
            return TaskError(
                f"TLS with the registry {host} failed ({said}): its certificate is not one this "
                "machine trusts, or not for that name. Add the registry's CA to the system's "
                "trust store, or fix its certificate; publish never turns verification off. "
                + self._outcome()
            )
        said = getattr(reason, "strerror", None) or str(reason)
        return TaskError(
            f"Cannot reach the registry {host} ({said.lower()}): it is down, or {host} is not "
            f"its address (a typo in the image name?). Check it, then run publish again. "
            + self._outcome()
        )


def _json(raw: bytes, what: str) -> dict:
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise TaskError(f"The registry served a manifest for {what} that is not a JSON object.")
    return document


def _config_digest(manifest: dict) -> str:
    config = manifest.get("config")
    digest = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        raise TaskError("The registry served an image manifest without a config digest.")
    return digest


def _loopback_url(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "http" and is_loopback(parts.hostname or "")
