"""Where a plain cookiecutter bake came from, recorded as cruft records it (.cruft.json), so that
`nox -s template`, the weekly template check, `cruft check` and `cruft update` work on it. The
pre-gen hook writes it (it knows the template's folder) once the answers pass; cruft and copier
record their own.

Read from the template checkout's own git files (HEAD, its refs, packed-refs, config): the hooks
run no git, since they run again on every `cruft update`.
"""

import json
import re
from pathlib import Path

OBJECT_NAME = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# What cookiecutter adds to the answers for its own run; cruft's record has none of them.
RUN_ONLY = ("_output_dir", "_repo_dir", "_checkout")


def git_dirs(checkout: Path) -> tuple[Path, Path] | None:
    """(git dir, common dir) of a checkout, None if it is not one. A linked worktree's .git is a
    file naming its git dir, whose `commondir` holds the refs and config it shares."""
    dot_git = checkout / ".git"
    if dot_git.is_file():
        named = re.fullmatch(r"gitdir: (.+)", dot_git.read_text(encoding="utf-8").strip())
        if named is None:
            return None
        git_dir = (checkout / named[1]).resolve()
    elif dot_git.is_dir():
        git_dir = dot_git
    else:
        return None
    common = git_dir / "commondir"
    if common.is_file():
        return git_dir, (git_dir / common.read_text(encoding="utf-8").strip()).resolve()
    return git_dir, git_dir


def head_commit(git_dir: Path, common_dir: Path) -> str | None:
    """The commit checked out: HEAD itself when detached, else its branch's loose or packed ref;
    None on a branch with no commit yet."""
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    if OBJECT_NAME.fullmatch(head):
        return head
    ref = head.removeprefix("ref: ")
    for folder in (git_dir, common_dir):
        loose = folder / ref
        if loose.is_file() and OBJECT_NAME.fullmatch(value := loose.read_text().strip()):
            return value
    packed = common_dir / "packed-refs"
    lines = packed.read_text(encoding="utf-8").splitlines() if packed.is_file() else []
    for line in lines:
        name, _, packed_ref = line.partition(" ")
        if packed_ref == ref and OBJECT_NAME.fullmatch(name):
            return name
    return None


def origin_url(common_dir: Path) -> str | None:
    """The URL of the remote `origin` in the git config, which a clone of the template has."""
    config = common_dir / "config"
    section = None
    lines = config.read_text(encoding="utf-8").splitlines() if config.is_file() else []
    for line in lines:
        line = line.strip()
        if line.startswith("["):
            section = re.sub(r"\s+", " ", line.strip("[]").strip())
        elif section == 'remote "origin"' and (
            match := re.fullmatch(r"url\s*=\s*(.+)", line, re.I)
        ):
            return match[1].strip().strip('"')
    return None


def cruft_state(answers: dict, template: Path) -> dict | None:
    """The .cruft.json cruft would have written, had it baked from this checkout's origin (or,
    with no remote, from its folder) at its HEAD; None when the template is not a git checkout."""
    dirs = git_dirs(template)
    commit = dirs and head_commit(*dirs)
    if not commit:
        return None
    source = origin_url(dirs[1]) or str(template.resolve())
    context = {key: value for key, value in answers.items() if key not in RUN_ONLY}
    context |= {"_template": source, "_commit": commit}
    return {
        "template": source,
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
    }


def record(answers: dict, template: Path, project: Path) -> None:
    """Write .cruft.json into the project folder, when the template is a git checkout."""
    state = cruft_state(answers, template)
    if state is not None:
        text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
        (project / ".cruft.json").write_text(text, encoding="utf-8")
