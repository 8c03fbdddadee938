"""An index that sends a name it lacks to another index is refused, with the reason and the fix:
on the host (lock, check, build) and inside the build, where pip would follow the redirect.

The private index is pypiserver as it starts by default, its fallback pointing at a loopback
"public" index that holds the missing name, as an attacker's upload to PyPI would."""

import base64
import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from baking import bake, tool
from harness import engine_env, run, tag, write_wheel

CONFUSION = (
    "whoever publishes that name there would be installed (dependency confusion). Make the "
    "index serve every name itself, proxying public PyPI: a Nexus group, an Artifactory virtual "
    "repository, or pypiserver with --disable-fallback"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def pypiserver(folder, *options):
    """pypiserver on a free loopback port until the block ends; yields its simple URL."""
    port = free_port()
    argv = [tool("pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port), *options, str(folder)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/simple/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (401 for the private one)
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def redirecting(provisioned, tmp_path):
    """(private URL, netrc, private wheelhouse, public URL): the private index redirects names it
    lacks to the public one, which serves acme-extra 9.9.9 (not the private 0.2.0)."""
    from passlib.apache import HtpasswdFile

    public, private = tmp_path / "public", tmp_path / "private"
    public.mkdir()
    private.mkdir()
    write_wheel(public, "acme-extra", "acme_extra", "9.9.9", body="ATTACKER = 1\n")
    write_wheel(private, "acme-sauce", "acme_sauce", "1.0.0", ["acme-extra>=0.1"])
    write_wheel(private, "acme-extra", "acme_extra", "0.2.0")
    htpasswd = HtpasswdFile(str(tmp_path / "htpasswd"), new=True)
    htpasswd.set_password("local", "redirect-test-password")
    htpasswd.save()
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login local password redirect-test-password\n")
    netrc.chmod(0o600)
    with pypiserver(public, "-a", ".", "-P", ".") as public_url:
        auth = ("-P", str(tmp_path / "htpasswd"), "-a", "download,list,update")
        with pypiserver(private, *auth, "--fallback-url", public_url) as private_url:
            yield private_url, netrc, private, public_url


def test_the_fixture_redirects_as_pypiserver_does_by_default(redirecting):
    private_url, _, _, public_url = redirecting
    request = urllib.request.Request(f"{private_url}acme-missing/")
    token = base64.b64encode(b"local:redirect-test-password").decode()
    request.add_header("Authorization", f"Basic {token}")

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.build_opener(Keep).open(request, timeout=5)
    assert answered.value.code in (301, 302, 303, 307, 308)
    assert answered.value.headers["Location"].startswith(public_url)


@pytest.mark.engine
def test_redirects_are_refused_on_the_host_and_in_the_build(provisioned, redirecting, tmp_path):
    private_url, netrc, private, public_url = redirecting
    repository = bake(
        tmp_path / "bake",
        base_image=provisioned["RAYRT_RAY_IMAGE"],
        ray_version=provisioned["RAYRT_RAY_VERSION"],
        dockerfile_syntax="",
        private_index_url=private_url,
        private_packages="acme-sauce>=1,<2",
    )
    env = engine_env("buildx", NETRC=str(netrc), IMAGE=tag("redirects"))

    def task(*argv):
        status, output, _ = run(["python3", "-m", "image_tasks", *argv], cwd=repository, env=env)
        assert "Traceback" not in output and "redirect-test-password" not in output
        return status, " ".join(output.split())

    # A name requirements.in declares that the index lacks: lock refuses before resolving.
    requirements_in = repository / "requirements.in"
    declared = requirements_in.read_text()
    requirements_in.write_text(declared + "acme-missing\n")
    status, output = task("lock")
    assert status == 2
    assert f"sends 'acme-missing' to {public_url}acme-missing/" in output, output[-2000:]
    assert CONFUSION in output
    assert not (repository / "requirements.txt").exists()
    requirements_in.write_text(declared)

    assert task("lock")[0] == 0  # the index serves both names itself
    # Now the index loses a locked name and sends it to the public index instead.
    next(private.glob("acme_extra-*.whl")).unlink()
    moved = f"sends 'acme-extra' to {public_url}acme-extra/"
    for argv in (("check",), ("build",)):
        status, output = task(*argv)
        assert status == 2 and moved in output and CONFUSION in output, output[-2000:]
        assert "$ docker" not in output
    # Past the host's check, the install step's own check refuses it before pip follows it.
    status, output = task("build", "--no-index-check", "--no-cache")
    assert status == 2
    assert f"index_probe: the index 127.0.0.1 {moved}" in output, output[-3000:]
    assert "the install step's index check says" in output
    assert "ATTACKER" not in output and "9.9.9" not in output
