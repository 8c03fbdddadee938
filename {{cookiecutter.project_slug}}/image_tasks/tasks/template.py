"""Has the template moved on since this repository was baked? Asked of the tool that baked it.

Where the repository came from is recorded in two places: the template's version is
image_tasks.__version__ (copied in verbatim at every bake), and the template's URL and the commit
baked from are in the file the update tool keeps, .cruft.json (cruft, and cookiecutter's bake)
or .copier-answers.yml (copier). The check runs that tool's own check and, when the template has
changed, says how to take the change: on stdout, and in the job summary under GitHub Actions.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from image_tasks import __version__, ci_report
from image_tasks.errors import TaskError
from image_tasks.settings import PROJECT_ROOT

CRUFT, COPIER = PROJECT_ROOT / ".cruft.json", PROJECT_ROOT / ".copier-answers.yml"

HOW_TO_UPDATE = {
    "cruft": (
        "cruft update  # shows the template's changes as a diff; y applies them",
        "cruft check   # passes again",
    ),
    "copier": (
        "copier update --trust  # merges the template's changes into your files",
        "copier check-update    # up to date again",
    ),
}


def template() -> int:
    """Check this repository against its template (cruft or copier); say how to update.

    Exit status 1 when the template has changed. A repository that records no template this
    machine can reach (a folder on the machine that baked it, or no record at all) gets a note,
    in the job summary too, and passes: otherwise the weekly check would fail every week for a
    reason no week changes."""
    if CRUFT.is_file():
        tool, where = "cruft", CRUFT_FIELD
        source = json.loads(CRUFT.read_text(encoding="utf-8"))["template"]
    elif COPIER.is_file():
        tool, source, where = "copier", _copier_source(), COPIER_FIELD
    else:
        return note(NO_RECORD)
    if out_of_reach(source):
        return note(
            f"This repository was baked from {source}, a folder on the machine that baked it, "
            f"which is not here. Put the template's git URL in its place ({where}) and commit "
            "it: this check follows the template from then on."
        )
    source, outdated = _cruft() if tool == "cruft" else _copier()
    if not outdated:
        print(f"Up to date with the template ({source}; template version {__version__}).")
        return 0
    report(tool, source)
    return 1


CRUFT_FIELD = '"template" in .cruft.json'
COPIER_FIELD = "_src_path in .copier-answers.yml"
NO_RECORD = (
    "This repository records no template (no .cruft.json or .copier-answers.yml): an older "
    "version of the template baked it, or a folder that is not a git checkout. Link it once "
    "with `cruft link TEMPLATE-URL`, at the commit it was baked from, and commit .cruft.json: "
    "this check follows the template from then on."
)


def out_of_reach(source: str) -> bool:
    """A template source that names a folder (a path, or a file:// URL) that is not here. Any
    other URL is the tool's to clone, and a failure to is reported as the tool's."""
    path = source.removeprefix("file://")
    if re.match(r"[\w+.-]+://|[\w.-]+@[\w.-]+:|(gh|gl|bb):", path):
        return False
    return not Path(path).expanduser().is_dir()


def note(text: str) -> int:
    """Say that there is nothing to check against, and pass."""
    markdown = f"### No template to check against\n\n{text} Until then this check passes.\n"
    print(markdown)
    ci_report.summary(markdown)
    return 0


def _copier_source() -> str:
    """The template copier baked from: `_src_path` in its answers file (read without YAML: the
    tasks' package is standard library only, and copier writes the key on one line)."""
    line = re.search(r"^_src_path: *(.+)$", COPIER.read_text(encoding="utf-8"), re.M)
    return line[1].strip().strip("'\"") if line else ""


def _cruft() -> tuple[str, bool]:
    state = json.loads(CRUFT.read_text(encoding="utf-8"))
    source = f"{state['template']} at commit {state['commit'][:12]}"
    return source, "out of date" in _run("cruft", "check")


def _copier() -> tuple[str, bool]:
    data = json.loads(_run("copier", "check-update", "--output-format", "json"))
    source = f"template release {data['current_version']}"
    if data["update_available"]:
        source += f"; the template is at {data['latest_version']}"
    return source, data["update_available"]


def _run(*argv: str) -> str:
    """The tool's output; a TaskError, with its own message, when it cannot check at all."""
    if shutil.which(argv[0]) is None:
        raise TaskError(f"{argv[0]} is not installed: run `nox -s template`, which installs it.")
    result = subprocess.run(
        argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0 and "out of date" not in result.stdout:
        sys.stderr.write(result.stdout + result.stderr)
        raise TaskError(
            f"`{' '.join(argv)}` could not check the template (exit {result.returncode}; its "
            "output is above). It clones the template's git URL: check the URL in the answers "
            "file, and for a private template give CI a read-only token (README.md, 'Keeping "
            "up with the template')."
        )
    return result.stdout


def report(tool: str, source: str) -> None:
    steps = "\n".join(HOW_TO_UPDATE[tool])
    text = (
        f"### The template has changed since this repository was baked\n\n"
        f"Baked from {source} (template version {__version__}). Take the change on a branch, "
        f"review it and open a pull request:\n\n```sh\ngit switch -c template-update\n{steps}\n"
        f"git add -A && git commit -m 'Update from the template'\n```\n\n"
        "A conflict shows as conflict markers in the file (and, with cruft, a `.rej` file "
        "beside it): keep your change and the template's, then delete the `.rej`. README.md, "
        "'Keeping up with the template', says more.\n"
    )
    print(text)
    ci_report.summary(text)
