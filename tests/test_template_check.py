"""A baked repository keeps up: the weekly template check (`nox -s template`, run for real on
repositories cruft and copier baked) and Dependabot's grouped, cooled-down updates."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from baking import bake, tool
from template_repo import commit_all, copier_copy, cruft_create, run

WORKFLOW = Path(".github/workflows/template-check.yml")
DEPENDABOT = Path(".github/dependabot.yml")
TOKEN = "github_pat_canary0123456789abcdefTemplateToken"


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("template-check"))


def workflow(project: Path, path: Path = WORKFLOW) -> dict:
    return yaml.safe_load((project / path).read_text(encoding="utf-8"))


def pins(project: Path, path: Path) -> dict[str, str]:
    text = (project / path).read_text(encoding="utf-8")
    return dict(re.findall(r"uses: ([\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+$", text, re.M))


def test_the_check_runs_weekly_and_on_demand_with_least_privilege(baked):
    data = workflow(baked)
    triggers = data.get("on", data.get(True))  # PyYAML reads the bare key `on` as True
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert re.fullmatch(r"\d+ \d+ \* \* 1", triggers["schedule"][0]["cron"])
    assert data["permissions"] == {}
    (job,) = data["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert job["steps"][-1]["run"].rstrip().endswith("nox -s template")
    checkout = job["steps"][0]
    assert checkout["with"]["persist-credentials"] is False


def test_actions_are_pinned_as_the_image_workflow_pins_them(baked):
    ours, image = pins(baked, WORKFLOW), pins(baked, Path(".github/workflows/image.yml"))
    assert ours
    assert {action: image[action] for action in ours} == ours


def test_every_workflow_installs_the_nox_the_dev_group_pins(baked):
    groups = tomllib.loads((baked / "pyproject.toml").read_text())["dependency-groups"]
    (pin,) = [item for item in groups["dev"] if isinstance(item, str) and item.startswith("nox==")]
    for path in (baked / ".github/workflows").glob("*.yml"):
        assert workflow(baked, path.relative_to(baked))["env"]["NOX_VERSION"] == pin[5:], path


def test_zizmor_finds_nothing(baked):
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--no-ignores", "--persona=pedantic",
         str(WORKFLOW), str(DEPENDABOT)],
        cwd=baked, capture_output=True, text=True, check=False,
    )  # fmt: skip
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "No findings to report" in report, report
    assert "completed .github/dependabot.yml" in report


def test_actionlint_and_shellcheck_find_nothing(baked):
    result = subprocess.run(
        [tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), str(WORKFLOW)],
        cwd=baked, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_dependabot_config_is_valid_grouped_and_cooled_down(baked):
    schema = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(DEPENDABOT)],
        cwd=baked, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert schema.returncode == 0, schema.stdout + schema.stderr
    updates = {u["package-ecosystem"]: u for u in workflow(baked, DEPENDABOT)["updates"]}
    assert set(updates) == {"github-actions", "docker", "pip"}
    for update in updates.values():
        assert update["directory"] == "/"
        assert update["schedule"]["interval"] == "weekly"
        assert update["cooldown"]["default-days"] >= 7
        (group,) = update["groups"].values()
        assert group["patterns"] == ["*"], "one pull request per ecosystem, not dozens"
    # The lock is compiled again against the private index alone, with Dependabot's own
    # credential (netrc-secret bakes; the cloud ones say how in README.md); never the base's list.
    config = workflow(baked, DEPENDABOT)
    assert updates["pip"]["exclude-paths"] == ["base-packages.txt"]
    assert updates["pip"]["registries"] == ["private-index"]
    assert config["registries"]["private-index"] == {
        "type": "python-index",
        "url": tomllib.loads((baked / "pyproject.toml").read_text())["tool"]["image-tasks"][
            "private-index-url"
        ],
        "username": "${{secrets.INDEX_USERNAME}}",
        "password": "${{secrets.INDEX_PASSWORD}}",
        "replaces-base": True,
    }


def token_step(project: Path) -> dict:
    (job,) = workflow(project)["jobs"].values()
    (step,) = [s for s in job["steps"] if "nox -s template" in s.get("run", "")]
    return step


@pytest.mark.parametrize("token", [TOKEN, ""], ids=["private-template", "public-template"])
def test_a_template_token_reaches_git_as_a_masked_header(baked, tmp_path, token):
    """The step runs under bash with a stand-in `nox` that records the environment it gets."""
    step = token_step(baked)
    assert step["env"]["TEMPLATE_TOKEN"] == "${{ secrets.TEMPLATE_TOKEN }}"
    stub = tmp_path / "bin" / "nox"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\nenv > "{tmp_path}/nox-env"\n')
    stub.chmod(0o755)
    env = {"PATH": f"{stub.parent}:{os.environ['PATH']}", "TEMPLATE_TOKEN": token}
    result = subprocess.run(
        [tool("bash"), "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = dict(line.split("=", 1) for line in (tmp_path / "nox-env").read_text().splitlines())
    assert "TEMPLATE_TOKEN" not in seen
    if not token:
        assert result.stdout == "" and "GIT_CONFIG_COUNT" not in seen
        return
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert result.stdout.splitlines()[0] == f"::add-mask::{basic}"
    assert seen["GIT_CONFIG_COUNT"] == "1"
    assert seen["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    assert seen["GIT_CONFIG_VALUE_0"] == f"AUTHORIZATION: basic {basic}"
    assert token not in result.stdout + result.stderr


def template_task(project: Path, env: dict[str, str], summary: Path) -> subprocess.CompletedProcess:
    """`python -m image_tasks template` as `nox -s template` runs it: cruft and copier on PATH."""
    path = f"{Path(sys.executable).parent}:{env['PATH']}"
    return run(
        sys.executable, "-m", "image_tasks", "template",
        cwd=project, env={**env, "PATH": path, "GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip


def test_the_check_on_a_cruft_repository(tmp_path, template):
    (tmp_path / "out").mkdir()
    project = cruft_create(template, tmp_path / "out", {})
    commit_all(project, template.env, "baked")
    summary = tmp_path / "summary.md"
    current = template_task(project, template.env, summary)
    assert current.returncode == 0, current.stdout + current.stderr
    assert "Up to date with the template" in current.stdout
    assert not summary.exists()

    template.change("README.md", "## Troubleshooting", "## When something goes wrong")
    behind = template_task(project, template.env, summary)
    assert behind.returncode == 1, behind.stdout + behind.stderr
    for text in (behind.stdout, summary.read_text()):
        assert "### The template has changed since this repository was baked" in text
        assert "cruft update" in text and "git switch -c template-update" in text


def test_the_check_on_a_copier_repository(tmp_path, template):
    project = copier_copy(template, tmp_path / "project", {})
    commit_all(project, template.env, "baked")
    summary = tmp_path / "summary.md"
    assert template_task(project, template.env, summary).returncode == 0

    template.change("README.md", "## Troubleshooting", "## When something goes wrong")
    template.git("tag", "v999.0.0")
    behind = template_task(project, template.env, summary)
    assert behind.returncode == 1, behind.stdout + behind.stderr
    assert "copier update --trust" in summary.read_text()
    assert "the template is at 999.0.0" in behind.stdout


def test_the_check_on_a_repository_baked_without_a_record(tmp_path, baked):
    result = template_task(baked, dict(os.environ), tmp_path / "summary.md")
    assert result.returncode == 2
    assert "plain cookiecutter baked it. Link it once with `cruft link" in result.stderr
    assert "Traceback" not in result.stderr
