"""Write requirements.in from the answers, then say where the repository is, where its template is
recorded, and what to do next. Idempotent, so safe to re-run under `cruft update`.

No git, no network, no container engine. It splits the comma-separated list with the rule the
pre-gen hook checked it with (copier renders the same file through copier_extension.py). It gets
only the answers it needs: cookiecutter leaves this rendered copy in the temporary directory, so
it deletes itself as well.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in the baked repository
# Spaced off the quotes: the JSON string's own closing quote must not run into them.
PRIVATE_PACKAGES = json.loads(r""" {{ cookiecutter.private_packages | tojson }} """)
# cruft gives the hooks the commit it bakes; cookiecutter does not.
BAKED_BY_CRUFT = json.loads(r""" {{ (cookiecutter._commit is defined) | tojson }} """)
sys.path.insert(0, os.getcwd())  # the baked repository: its image_tasks package

from image_tasks.validation import requirements_file  # noqa: E402


def cruft_subcommand() -> str:
    """The subcommand of the cruft process running this hook (create, update, diff), read from its
    command line."""
    proc = Path(f"/proc/{os.getppid()}/cmdline")
    if proc.exists():
        argv = proc.read_bytes().decode(errors="replace").split("\0")
    else:  # macOS has no /proc
        ps = ["ps", "-o", "command=", "-p", str(os.getppid())]
        argv = subprocess.run(ps, capture_output=True, text=True, check=False).stdout.split()
    return next((word for word in argv if word in {"create", "update", "diff"}), "")


def recorded(project: Path) -> str:
    """Where .cruft.json says the template is (cruft's, or the pre-gen hook's for cookiecutter)."""
    if BAKED_BY_CRUFT:
        return "cruft records its template in .cruft.json, for `nox -s template`."
    if not (project / ".cruft.json").is_file():
        return (
            "No template is recorded (the template folder is not a git checkout): bake from "
            "the template's git URL, or a clone of it, to take its later changes."
        )
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    where = f"{state['template']} at commit {state['commit'][:12]}"
    if Path(state["template"]).is_absolute():
        where += (
            ", a folder with no git remote: CI's weekly check cannot reach it until the "
            '"template" there is the template\'s git URL'
        )
    return f"Its template is recorded in .cruft.json, for `nox -s template`: {where}."


def main() -> None:
    Path(__file__).unlink(missing_ok=True)
    here = Path.cwd()
    (here / "requirements.in").write_text(requirements_file(PRIVATE_PACKAGES), encoding="utf-8")
    if BAKED_BY_CRUFT and cruft_subcommand() in {"update", "diff"}:
        return  # cruft bakes two versions into temporary folders to compare them: no "what next"
    print(
        f"Baked {here}. {recorded(here)}\nNext: cd {here} and follow README.md: set up once (the "
        "index credential, git init and the GitHub repository, the tools), then `nox -s lock` "
        "to pin the private packages, and `nox` to build, audit and test."
    )


if __name__ == "__main__":
    main()
