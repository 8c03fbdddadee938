"""index_auth: CI mints a short-lived index token through GitHub's OIDC (AWS CodeArtifact, Google
Artifact Registry), or reads the NET_RC secret; the README's local command writes a netrc.

GitHub's OIDC and the cloud CLIs cannot run here. The workflow's own scripts run under bash
instead: the token step with a stand-in `aws` that prints a fake token (Google's token arrives as
the auth action's output, an environment variable), then the step that removes the netrc.
"""

from __future__ import annotations

import json
import netrc
import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from baking import AWS, CHOICES, NEEDS, bake, choice, tool

VARIANTS = {value: choice("index_auth", value) for value in CHOICES["index_auth"]}
MINTED = [value for value in CHOICES["index_auth"] if value in NEEDS]  # CI mints their token
WORKFLOW = Path(".github/workflows/image.yml")
TOKEN = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0.canary-index-token.Zm9vYmFy"
LOGINS = {"aws-codeartifact": "aws", "google-artifact-registry": "oauth2accesstoken"}
PINS = {
    "aws-actions/configure-aws-credentials": "e6de054238d6b7531b4efff3b6587d9aade6a06c # v6.2.3",
    "google-github-actions/auth": "7c6bc770dae815cd3e89ee6cdf493a5fab2cc093 # v3.0.0",
}


class Baked:
    def __init__(self, variant: str, project: Path) -> None:
        self.variant, self.project = variant, project
        self.text = (project / WORKFLOW).read_text(encoding="utf-8")
        self.data = yaml.safe_load(self.text)
        self.jobs = self.data["jobs"]
        settings = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
        self.index_url = settings["tool"]["image-tasks"]["private-index-url"]

    def step(self, job: str, name: str) -> dict:
        (found,) = [s for s in self.jobs[job]["steps"] if s.get("name") == name]
        return found

    def names(self, job: str) -> list[str]:
        return [s.get("name") for s in self.jobs[job]["steps"]]


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def baked(request, tmp_path_factory) -> Baked:
    out = tmp_path_factory.mktemp(f"index-auth-{request.param}")
    return Baked(request.param, bake(out, **VARIANTS[request.param]))


@pytest.fixture(scope="module", params=MINTED, ids=MINTED)
def minted(request, tmp_path_factory) -> Baked:
    out = tmp_path_factory.mktemp(f"minted-{request.param}")
    return Baked(request.param, bake(out, **VARIANTS[request.param]))


def test_zizmor_finds_nothing(baked):
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--no-ignores", "--persona=pedantic",
         str(WORKFLOW)],
        cwd=baked.project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    report = result.stdout + result.stderr
    assert result.returncode == 0 and "No findings to report" in report, report


def test_actionlint_and_shellcheck_find_nothing(baked):
    result = subprocess.run(
        [tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), str(WORKFLOW)],
        cwd=baked.project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_id_token_only_where_a_token_is_minted_or_signed(baked):
    holders = {n for n, job in baked.jobs.items() if job["permissions"].get("id-token")}
    assert holders == ({"image", "sign"} if baked.variant in MINTED else {"sign"})


def test_a_minted_token_replaces_the_net_rc_secret(minted):
    assert "NET_RC" not in minted.text
    names = minted.names("image")
    auth = "Authenticate to AWS" if minted.variant == AWS["index_auth"] else (
        "Authenticate to Google Cloud"
    )  # fmt: skip
    order = [auth, "Mint the index token", "Build the image", "Audit the image for leaked "
             "credentials", "Remove the index netrc", "Test the image"]  # fmt: skip
    assert [name for name in names if name in order] == order
    action = minted.step("image", auth)["uses"].split("@")[0]
    assert f"{action}@{PINS[action]}" in minted.text
    netrc_file = "${{ runner.temp }}/index.netrc"
    build = minted.step("image", "Build the image")["with"]
    assert build["secret-files"].strip() == f'"netrc={netrc_file}"'
    assert "secrets" not in build
    assert minted.step("image", "Audit the image for leaked credentials")["env"]["NETRC"] == (
        netrc_file
    )
    remove = minted.step("image", "Remove the index netrc")
    assert remove["if"] == "always()" and remove["env"]["NETRC_FILE"] == netrc_file


def run_step(step: dict, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """A step's script under bash, as the runner runs it, its ${{ }} values filled in."""
    values = {
        "${{ runner.temp }}": str(tmp_path / "runner-temp"),
        "${{ steps.cloud.outputs.aws-access-key-id }}": "ASIAFAKEKEYID",
        "${{ steps.cloud.outputs.aws-secret-access-key }}": "fake-secret-key",
        "${{ steps.cloud.outputs.aws-session-token }}": "fake-session-token",
        "${{ steps.cloud.outputs.access_token }}": TOKEN,
    }
    step_env = {}
    for key, value in step.get("env", {}).items():
        for expression, filled in values.items():
            value = str(value).replace(expression, filled)
        assert "${{" not in value, f"{key}: {value}"
        step_env[key] = value
    (tmp_path / "runner-temp").mkdir(exist_ok=True)
    return subprocess.run(
        [tool("bash"), "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={"PATH": os.environ["PATH"], **step_env, **env},
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def stand_in_aws(tmp_path: Path, *, status: int = 0) -> Path:
    """An `aws` that records its arguments and credentials and prints a fake token."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "aws"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{tmp_path}/aws-args"\n'
        f'echo "$AWS_ACCESS_KEY_ID $AWS_SESSION_TOKEN $AWS_REGION" > "{tmp_path}/aws-env"\n'
        f'[ {status} = 0 ] || {{ echo "AccessDeniedException" >&2; exit {status}; }}\n'
        f"echo {TOKEN}\n"
    )
    script.chmod(0o755)
    return bin_dir


def test_the_token_is_masked_first_and_lives_in_a_600_netrc_until_the_audit_ends(minted, tmp_path):
    bin_dir = stand_in_aws(tmp_path)
    mint = run_step(
        minted.step("image", "Mint the index token"), tmp_path,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
    )  # fmt: skip
    assert mint.returncode == 0, mint.stderr
    lines = mint.stdout.splitlines()
    assert lines[0] == f"::add-mask::{TOKEN}", "the mask must come before any other output"
    assert all(TOKEN not in line for line in lines[1:]) and TOKEN not in mint.stderr
    netrc_file = tmp_path / "runner-temp" / "index.netrc"
    assert stat.S_IMODE(netrc_file.stat().st_mode) == 0o600
    host = urlsplit(minted.index_url).hostname
    login, _, password = netrc.netrc(str(netrc_file)).authenticators(host)
    assert (login, password) == (LOGINS[minted.variant], TOKEN)
    if minted.variant == AWS["index_auth"]:
        arguments = (tmp_path / "aws-args").read_text().split()
        assert arguments[:2] == ["codeartifact", "get-authorization-token"]
        assert arguments[arguments.index("--domain") + 1] == AWS["aws_codeartifact_domain"]
        assert arguments[arguments.index("--domain-owner") + 1] == AWS["aws_account_id"]
        credentials = "ASIAFAKEKEYID fake-session-token eu-west-1\n"
        assert (tmp_path / "aws-env").read_text() == credentials

    remove = run_step(minted.step("image", "Remove the index netrc"), tmp_path)
    assert remove.returncode == 0, remove.stderr
    assert not netrc_file.exists()


def test_no_token_fails_the_step_and_writes_nothing(minted, tmp_path):
    if minted.variant == AWS["index_auth"]:
        bin_dir = stand_in_aws(tmp_path, status=254)
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    else:
        env = {"ACCESS_TOKEN": ""}
    step = minted.step("image", "Mint the index token")
    result = run_step(step, tmp_path, **env)
    assert result.returncode != 0
    assert "::add-mask::" not in result.stdout
    assert not (tmp_path / "runner-temp" / "index.netrc").exists()


REPOSITORY = "acme/ray-runtime"


@pytest.mark.parametrize(
    ("event", "head", "actor", "variables", "code", "build", "annotation"),
    [
        ("push", "", "dev", "set", 0, "true", None),
        ("push", "", "dev", "missing", 1, "false", "::error "),
        ("pull_request", REPOSITORY, "dev", "missing", 1, "false", "::error "),
        ("pull_request", "someone/fork", "dev", "missing", 0, "false", "::warning "),
        # Dependabot's pull requests get no OIDC token, whatever is configured
        ("pull_request", REPOSITORY, "dependabot[bot]", "set", 0, "false", "::warning "),
    ],
    ids=["configured", "push-without-identity", "own-pr-without-identity", "fork-pr-skips",
         "dependabot-pr-skips"],
)  # fmt: skip
def test_the_identity_check(
    minted, tmp_path, event, head, actor, variables, code, build, annotation
):
    step = minted.step("preflight", "Check the index identity")
    required = step["env"]["REQUIRED"].split()
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        **{key: "" for key in step["env"] if key != "REQUIRED"},
        "REQUIRED": step["env"]["REQUIRED"],
        "EVENT_NAME": event,
        "HEAD_REPOSITORY": head,
        "REPOSITORY": REPOSITORY,
        "ACTOR": actor,
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": os.environ["PATH"],
    }
    if variables == "set":
        env |= {name: "configured-value" for name in required}
    result = subprocess.run(
        [tool("bash"), "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == code, result.stderr
    assert output.read_text() == f"build={build}\n"
    if annotation is None:
        assert result.stdout == "" and not summary.exists()
        return
    assert result.stdout.startswith(annotation)
    if annotation == "::error ":
        for name in required:
            assert f"gh variable set {name} --body VALUE" in summary.read_text()


def readme_block(project: Path, needle: str) -> str:
    readme = (project / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.S) if needle in b]
    return re.sub(r"^ {3}", "", block, flags=re.M)


def test_the_readme_command_writes_a_short_lived_netrc(minted, tmp_path):
    """The README's one command per provider, run as written, with a stand-in CLI."""
    cli = "aws" if minted.variant == AWS["index_auth"] else "gcloud"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / cli).write_text(f"#!/bin/sh\necho {TOKEN}\n")
    (bin_dir / cli).chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    command = readme_block(minted.project, "export NETRC=")
    script = command + '\nprintf "%s" "$NETRC"\n'
    result = subprocess.run(
        [tool("bash"), "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env={"HOME": str(home), "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    netrc_file = Path(result.stdout)
    assert netrc_file.parent == home
    assert stat.S_IMODE(netrc_file.stat().st_mode) == 0o600
    host = urlsplit(minted.index_url).hostname
    login, _, password = netrc.netrc(str(netrc_file)).authenticators(host)
    assert (login, password) == (LOGINS[minted.variant], TOKEN)
    assert TOKEN not in command


def test_the_readme_s_dependabot_registry_is_valid_dependabot_configuration(baked, tmp_path):
    """The block the README gives, merged as it says, passes Dependabot's schema (a netrc-secret
    bake carries it in dependabot.yml already: Dependabot's own credential is all it needs)."""
    readme = (baked.project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Keeping dependencies current", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    config = yaml.safe_load((baked.project / ".github/dependabot.yml").read_text())
    (pip,) = [u for u in config["updates"] if u["package-ecosystem"] == "pip"]
    if baked.variant == "netrc-secret":
        assert blocks == [] and pip["registries"] == ["private-index"]
        assert "gh secret set INDEX_PASSWORD --app dependabot" in section
    else:
        (block,) = blocks
        config |= yaml.safe_load(block)
        lock = {"requirements.in", "requirements.txt"}
        assert lock <= set(pip["exclude-paths"])
        pip["exclude-paths"] = [path for path in pip["exclude-paths"] if path not in lock]
        pip["registries"] = ["private-index"]
    assert config["registries"]["private-index"]["url"] == baked.index_url
    merged = tmp_path / "dependabot.yml"
    merged.write_text(json.dumps(config))  # JSON is YAML, and keeps "012..." a string
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(merged)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
