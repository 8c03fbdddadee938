"""Both READMEs' install commands, run verbatim in a clean Debian container with its own system
Python (PEP 668: externally managed, no pip), offline: the wheels they need are downloaded on
the host first and offered through PIP_FIND_LINKS, as a company mirror would offer them."""

import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from baking import TEMPLATE, bake
from harness import engine_env
from template_repo import Template, environment

SKIP = {".git", ".nox", ".venv", ".pytest_cache", ".ruff_cache", "__pycache__", ".hypothesis"}


def sh_blocks(markdown: str) -> list[str]:
    return [textwrap.dedent(block) for block in re.findall(r"```sh\n(.*?)\n\s*```", markdown, re.S)]


def setup_block(readme: Path, heading: str) -> str:
    section = readme.read_text(encoding="utf-8").split(heading, 1)[1]
    return next(block for block in sh_blocks(section) if "python3 -m venv" in block)


def dev_group(pyproject: Path) -> list[str]:
    """The baked `dev` dependency group, include-group entries resolved."""
    groups = tomllib.loads(pyproject.read_text(encoding="utf-8"))["dependency-groups"]

    def expand(name: str) -> list[str]:
        out = []
        for item in groups[name]:
            out += expand(item["include-group"]) if isinstance(item, dict) else [item]
        return out

    return expand("dev")


@pytest.fixture(scope="module")
def baked(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("baked"))


@pytest.fixture(scope="module")
def wheels(baked, tmp_path_factory) -> Path:
    """Every wheel the two install commands ask for, downloaded on the host (which reaches PyPI)."""
    folder = tmp_path_factory.mktemp("wheels")
    requirements = ["-r", str(TEMPLATE / "requirements-dev.txt"), "pip>=25.1"]
    requirements += dev_group(baked / "pyproject.toml")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
         "--only-binary=:all:", "-d", str(folder), *requirements],
        check=True,
    )  # fmt: skip
    return folder


def in_clean_debian(provisioned, wheels: Path, workdir: Path, script: str) -> str:
    """Run script under bash in the provisioned Debian image, as root, with the system Python
    (/usr/bin/python3) first on PATH, no network, and the wheels as the only package source."""
    argv = [
        "docker", "run", "--rm", "--pull=never", "--network=none",
        "-v", f"{wheels}:/wheels:ro", "-v", f"{workdir}:/work", "-w", f"/work/{script[0]}",
        "-e", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "-e", "HOME=/root",
        "-e", "PIP_NO_INDEX=1", "-e", "PIP_FIND_LINKS=/wheels",
        "-e", "PIP_DISABLE_PIP_VERSION_CHECK=1",
        provisioned["RAYRT_PYTHON_IMAGE"], "bash", "-euo", "pipefail", "-c", script[1],
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, env=engine_env("buildx"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    return result.stdout


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=lambda _, names: [n for n in names if n in SKIP])
    return target


@pytest.mark.engine
def test_the_system_python_is_externally_managed(provisioned, wheels, tmp_path):
    script = "python3 -c 'import sys, sysconfig, os; print(sys.executable, os.path.exists(" \
        "os.path.join(sysconfig.get_path(\"stdlib\"), \"EXTERNALLY-MANAGED\")))'"  # fmt: skip
    out = in_clean_debian(provisioned, wheels, tmp_path, ("", script))
    assert out.split() == ["/usr/bin/python3", "True"]


@pytest.mark.engine
def test_template_readme_install_then_bake(provisioned, wheels, tmp_path):
    block = setup_block(TEMPLATE / "README.md", "## Quickstart")
    # a git repository of this checkout, as a clone is: the bake records its commit
    clone = Template(tmp_path / "cookiecutter-ray-runtime", environment(tmp_path / "home")).path
    bake_command = sh_blocks(TEMPLATE.joinpath("README.md").read_text().split("## Quickstart")[1])[
        1
    ]
    script = f"{block}\ncookiecutter --version\nnox --version\n{bake_command.strip()} --no-input\n"
    out = in_clean_debian(provisioned, wheels, tmp_path, (clone.name, script))
    assert "Cookiecutter 2." in out
    assert (tmp_path / "ray-runtime" / "Dockerfile").is_file(), out
    assert "Baked /work/ray-runtime. Its template is recorded in .cruft.json" in out
    assert "Next: cd /work/ray-runtime and follow README.md" in out


@pytest.mark.engine
def test_baked_readme_install_gives_both_front_doors(provisioned, wheels, baked, tmp_path):
    block = setup_block(baked / "README.md", "## Set up once")
    project = copy_tree(baked, tmp_path / baked.name)
    script = f"{block}\nnox --list\ninvoke --list\n"
    out = in_clean_debian(provisioned, wheels, tmp_path, (project.name, script))
    for task in ("build", "audit", "test", "publish", "lint"):
        assert re.search(rf"^\s*\*?\s*{task}\b", out, re.M), out
