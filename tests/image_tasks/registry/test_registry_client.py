"""Reading a manifest back from a registry: a stand-in registry on loopback that answers as
token-authenticated registries do (ghcr.io, Docker Hub: a 401 challenge, a token service); the
Basic-auth path runs against the real distribution registry in tests/e2e/test_engines.py."""

import base64
import hashlib
import http.server
import json
import ssl
import subprocess
import threading

import pytest
from image_tasks.errors import TaskError
from image_tasks.registry import client, login

SECRET = "s3cret-pat-4f1e"
CONFIG = "sha256:" + "c" * 64
OTHER = "sha256:" + "d" * 64


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_manifest(config: str) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": client.MANIFEST_TYPES[0],
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config}}
    ).encode()  # fmt: skip


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    """GET /v2/team/app/manifests/REF with a Bearer token from GET /token (Basic auth)."""

    # set per test by the `server` fixture, on a subclass of its own
    manifests: dict[str, tuple[bytes, str]]
    seen: list[tuple[str, str | None]]
    redirect: bool

    def do_GET(self):
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        host = f"127.0.0.1:{self.server.server_port}"
        if self.path.startswith("/token"):
            basic = "Basic " + base64.b64encode(f"bot:{SECRET}".encode()).decode()
            if self.headers.get("Authorization") != basic:
                return self.reply(401, b"{}")
            return self.reply(200, json.dumps({"token": "tok-123"}).encode())
        if self.redirect:
            self.send_response(307)
            self.send_header("Location", "http://elsewhere.example/blob")
            return self.end_headers()
        if self.headers.get("Authorization") != "Bearer tok-123":
            self.send_response(401)
            self.send_header(
                "WWW-Authenticate",
                f'Bearer realm="http://{host}/token",service="{host}",'
                'scope="repository:team/app:pull"',
            )
            return self.end_headers()
        reference = self.path.rsplit("/", 1)[1]
        if reference not in self.manifests:
            return self.reply(404, b"{}")
        body, media_type = self.manifests[reference]
        self.reply(200, body, media_type)

    def reply(self, status, body, media_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    handler = type("Handler", (FakeRegistry,), {"manifests": {}, "seen": [], "redirect": False})
    httpd = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setattr(login, "find", lambda *a: login.Login("bot", SECRET))
    yield handler, f"127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def client_for(host: str, tag: str = "v1") -> client.Client:
    return client.Client(client.Reference.parse(f"{host}/team/app:{tag}"), "buildx")


def test_references_as_the_engines_read_them():
    hub = client.Reference.parse("ray-runtime:dev")
    assert (hub.host, hub.repository, hub.tag) == ("docker.io", "library/ray-runtime", "dev")
    assert hub.base_url == "https://registry-1.docker.io/v2/library/ray-runtime"
    local = client.Reference.parse("127.0.0.1:5000/team/app")
    assert (local.tag, local.base_url) == ("latest", "http://127.0.0.1:5000/v2/team/app")
    assert client.Reference.parse("[::1]:5000/a/b:x").base_url.startswith("http://")
    assert client.Reference.parse("ghcr.io/acme/x:1").base_url.startswith("https://")
    with pytest.raises(TaskError, match="not a tagged image reference"):
        client.Reference.parse("ghcr.io/acme/x@sha256:" + "0" * 64)


def test_a_token_registry_serves_the_manifest(server):
    handler, host = server
    body = image_manifest(CONFIG)
    handler.manifests["v1"] = (body, client.MANIFEST_TYPES[0])
    manifest = client_for(host).manifest()
    assert manifest.digest == digest(body) and manifest.config_digests == (CONFIG,)
    token_request = next(path for path, _ in handler.seen if path.startswith("/token"))
    assert "scope=repository%3Ateam%2Fapp%3Apull" in token_request


def test_an_index_names_each_platform_and_skips_attestations(server):
    handler, host = server
    amd, arm = image_manifest(CONFIG), image_manifest(OTHER)
    attestation = image_manifest("sha256:" + "e" * 64)
    index = json.dumps({"schemaVersion": 2, "mediaType": client.INDEX_TYPES[0], "manifests": [
        {"digest": digest(amd)}, {"digest": digest(arm)},
        {"digest": digest(attestation),
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
    ]}).encode()  # fmt: skip
    single = client.MANIFEST_TYPES[0]
    handler.manifests.update(
        {"v1": (index, client.INDEX_TYPES[0]), digest(amd): (amd, single),
         digest(arm): (arm, single)}
    )  # fmt: skip
    assert client_for(host).manifest().config_digests == (CONFIG, OTHER)
    handler.manifests[digest(arm)] = (amd, client.MANIFEST_TYPES[0])  # served bytes lie
    with pytest.raises(TaskError, match="does not match"):
        client_for(host).manifest()


def test_refusals_say_what_to_do_and_never_show_the_secret(server, monkeypatch):
    _, host = server
    monkeypatch.setattr(login, "find", lambda *a: login.Login("bot", "not-the-pat-93b1"))
    with pytest.raises(TaskError, match="refused the login this engine has") as refused:
        client_for(host).manifest()
    said = str(refused.value)
    assert "docker login 127.0.0.1" in said and "not-the-pat" not in said
    monkeypatch.setattr(login, "find", lambda *a: None)
    with pytest.raises(TaskError, match="wants a login this engine does not have"):
        client_for(host).manifest()
    monkeypatch.setattr(login, "find", lambda *a: login.Login("bot", SECRET))
    with pytest.raises(TaskError, match="no such manifest") as missing:
        client_for(host, "nope").manifest()
    assert SECRET not in str(missing.value)


def test_redirects_are_not_followed_with_a_credential(server):
    handler, host = server
    handler.redirect = True
    with pytest.raises(TaskError, match="redirects are not followed"):
        client_for(host).manifest()


def test_a_certificate_this_machine_does_not_trust_is_named_tls(tmp_path, monkeypatch):
    """A real TLS handshake with a self-signed registry: the refusal says TLS, not "down" and
    not "log in", and verification is never turned off."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    handler = type("Handler", (FakeRegistry,), {"manifests": {}, "seen": [], "redirect": False})
    httpd = http.server.HTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setattr(login, "find", lambda *a: login.Login("bot", SECRET))
    # A registry on loopback is spoken to over plain http: this one stands for a remote one.
    url = f"https://127.0.0.1:{httpd.server_port}/v2/team/app"
    monkeypatch.setattr(client.Reference, "base_url", property(lambda self: url))
    try:
        with pytest.raises(TaskError) as refused:
            client_for(f"127.0.0.1:{httpd.server_port}").manifest()
    finally:
        httpd.shutdown()
    said = str(refused.value)
    assert said.startswith(f"TLS with the registry 127.0.0.1:{httpd.server_port} failed (")
    assert "certificate" in said and "never turns verification off" in said
    assert handler.seen == []  # nothing, the credential least of all, went over it
