"""Where the engines keep a registry login, read as they read it; the secret never shown."""

import base64
import json
import os
import stat

import pytest
from image_tasks.errors import TaskError
from image_tasks.registry import login as stored

SECRET = "s3cret-registry-9d2c"


def auth(user: str, password: str) -> dict:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return tmp_path


def write(path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_docker_login_is_found_by_host_in_docker_config(home, monkeypatch):
    write(
        home / "cfg" / "config.json", {"auths": {"https://registry.example.com": auth("u", SECRET)}}
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(home / "cfg"))
    login = stored.find("registry.example.com", "team/app", "buildx")
    assert (login.username, login.secret) == ("u", SECRET)
    assert SECRET not in repr(login)


def test_docker_hub_is_found_under_dockers_own_key(home):
    write(
        home / ".docker/config.json", {"auths": {"https://index.docker.io/v1/": auth("u", SECRET)}}
    )
    assert stored.find("docker.io", "acme/app", "docker").secret == SECRET


def test_podman_reads_its_auth_files_first_and_the_most_specific_entry(home, monkeypatch):
    write(home / ".docker/config.json", {"auths": {"r.example": auth("docker", "d-secret")}})
    write(
        home / "run/containers/auth.json",
        {
            "auths": {
                "r.example": auth("podman", "p-secret"),
                "r.example/team": auth("team", SECRET),
            }
        },
    )
    assert stored.find("r.example", "team/app", "podman").username == "team"
    assert stored.find("r.example", "other/app", "podman").username == "podman"
    assert stored.find("r.example", "team/app", "docker").username == "docker"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(home / "explicit.json"))
    write(home / "explicit.json", {"auths": {"r.example": auth("explicit", SECRET)}})
    assert stored.find("r.example", "team/app", "podman").username == "explicit"


def test_credential_helper_gets_the_server_on_stdin_never_argv(home, tmp_path, monkeypatch):
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {tmp_path}/argv\n'
        f"cat > {tmp_path}/stdin\n"
        f'printf \'{{"ServerURL":"r.example","Username":"u","Secret":"{SECRET}"}}\'\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    write(home / ".docker/config.json", {"credHelpers": {"r.example": "fake"}})
    assert stored.find("r.example", "team/app", "buildx").secret == SECRET
    assert (tmp_path / "argv").read_text().split() == ["get"]
    assert (tmp_path / "stdin").read_text() == "r.example"


def test_no_login_and_a_damaged_login(home):
    assert stored.find("r.example", "team/app", "buildx") is None
    write(home / ".docker/config.json", {"auths": {"r.example": {"auth": "%%%not-base64"}}})
    with pytest.raises(TaskError, match=r"malformed\. Log in again"):
        stored.find("r.example", "team/app", "buildx")
    (home / ".docker/config.json").write_text("{not json")
    with pytest.raises(TaskError, match="unreadable or not JSON"):
        stored.find("r.example", "team/app", "buildx")
