"""Read an image's manifest back from its registry (the distribution API, read-only).

Used after a push, to check what the registry serves: the manifest's digest (what a deployment
pins) and the config digest of each platform image it names (what the audit recorded). The
engine's own login authenticates (`login`): HTTP Basic, or a Bearer token from the
registry's token service. A registry on loopback is spoken to over plain http, as the engines
do for localhost; any other needs https. Redirects are never followed with a credential.
Standard library only.
"""

import base64
import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from image_tasks import validation
from image_tasks.errors import TaskError
from image_tasks.index.probe import is_loopback, opener
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
    """Fetches manifests of one repository, authenticating once per run."""

    def __init__(self, reference: Reference, engine: str) -> None:
        self.reference = reference
        self.engine = engine
        self.authorization: str | None = None

    def manifest(self) -> Manifest:
        """The tag's manifest and, for an index, each platform manifest's config digest."""
        raw, media_type = self._get(self.reference.tag)
        document = _json(raw, self.reference.tag)
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
                child, _ = self._get(digest)
                if "sha256:" + hashlib.sha256(child).hexdigest() != digest:
                    raise self._fail(f"served a manifest that does not match {digest}")
                configs.append(_config_digest(_json(child, digest)))
            return Manifest(digest, media_type, tuple(configs))
        return Manifest(digest, media_type, (_config_digest(document),))

    # -- HTTP ------------------------------------------------------------------------------
    def _get(self, reference: str) -> tuple[bytes, str]:
        """The manifest's bytes and media type; a 401's challenge is answered once."""
        url = f"{self.reference.base_url}/manifests/{reference}"
        try:
            try:
                return self._open(url)
            except urllib.error.HTTPError as error:
                challenge = error.headers.get("WWW-Authenticate", "")
                if error.code != 401 or not challenge or self.authorization:
                    raise
                self.authorization = self._authorize(challenge)
                return self._open(url)
        except urllib.error.HTTPError as error:
            raise self._http_error(error) from None
        except urllib.error.URLError as error:
            raise self._unreachable(error.reason) from None
        except OSError as error:
            raise self._unreachable(error) from None

    def _open(self, url: str) -> tuple[bytes, str]:
        request = urllib.request.Request(url, headers={"Accept": ACCEPT})  # noqa: S310
        if self.authorization:
            request.add_header("Authorization", self.authorization)
        with opener(request.full_url).open(request, timeout=TIMEOUT) as response:
            raw = response.read(MAX_MANIFEST + 1)
            if len(raw) > MAX_MANIFEST:
                raise self._fail("served a manifest larger than 4 MiB")
            return raw, response.headers.get_content_type()

    def _authorize(self, challenge: str) -> str:
        """The Authorization header a 401's challenge asks for: Basic with the engine's login, or
        a Bearer token from the registry's token service (anonymous without a login)."""
        scheme, _, parameters = challenge.partition(" ")
        login = stored_login.find(self.reference.host, self.reference.repository, self.engine)
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
        fields.setdefault("scope", f"repository:{self.reference.repository}:pull")
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
                raise self._not_logged_in() from None
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
            f"The registry {self.reference.host}{sep}{what}, reading back "
            f"{self.reference.tagged}. The push may have succeeded, but "
            "publish cannot vouch for what the registry serves; nothing is recorded as published."
        )

    def _not_logged_in(self) -> TaskError:
        tool = "podman" if self.engine == "podman" else "docker"
        return TaskError(
            f"The registry {self.reference.host} wants a login this engine does not have (or "
            f"refused it). Log in with `{tool} login {self.reference.host}` (in CI, "
            "docker/login-action), then run publish again."
        )

    def _http_error(self, error: urllib.error.HTTPError) -> TaskError:
        if error.code in (401, 403):
            return self._not_logged_in()
        if error.code == 404:
            return self._fail("has no such manifest (HTTP 404)")
        if 300 <= error.code < 400:
            return self._fail(f"redirected (HTTP {error.code}); redirects are not followed")
        return self._fail(f"answered HTTP {error.code}")

    def _unreachable(self, reason) -> TaskError:
        reason = getattr(reason, "strerror", None) or str(reason)
        return TaskError(
            f"Cannot reach the registry {self.reference.host} ({reason}) to read back "
            f"{self.reference.tagged}. Check the network or the registry, "
            "then run publish again."
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
