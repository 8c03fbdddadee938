"""Refuse answers that would bake a broken or leaking repository, before any file is written.

Runs under cookiecutter and cruft (copier asks hooks/answers.py through copier.yml's validators).
Answers arrive through ``tojson``, never pasted raw into Python source, and this file is a rendered
copy that cookiecutter leaves in the temporary directory with every answer in it: it deletes
itself first. No git, no network, no container engine: it runs again on every `cruft update`.
Once the answers pass, a plain cookiecutter bake gets the record cruft would have written
(template_source.py) in the project folder, where cookiecutter runs this hook.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
URL_ANSWERS = ("private_index_url", "private_packages")


def working_directory(pid: int) -> Path | None:
    """A process's working directory: /proc on Linux, lsof elsewhere (macOS has no /proc)."""
    proc = Path(f"/proc/{pid}/cwd")
    return proc.resolve() if proc.exists() else lsof_working_directory(pid)


def lsof_working_directory(pid: int) -> Path | None:
    argv = ["lsof", "-a", "-p", str(pid), "-d", "cwd", "-Fn"]
    try:
        listing = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line[1:] for line in listing.splitlines() if line.startswith("n/")]
    return Path(names[0]) if names else None


def template_root() -> Path:
    """cookiecutter's generate_files, which cruft calls too, runs hooks from inside the template
    (cruft's temporary clone of it included), so that is where this hook's parent works."""
    root = working_directory(os.getppid())
    if root is None or not (root / "hooks" / "answers.py").is_file():
        sys.exit(
            "error: the pre-gen hook cannot find the template's hooks/answers.py in the working "
            "directory of the cookiecutter or cruft process that runs it (read through /proc, or "
            "lsof on macOS). Bake with cookiecutter or cruft on Linux or macOS, from a complete "
            "copy of the template."
        )
    return root


def carries_credential(value: str) -> bool:
    """Userinfo or a query in a URL of the value: where a credential would be."""
    if "://" not in value:
        return "@" in value
    urls = (urlsplit(word) for word in re.findall(r"[A-Za-z][\w+.-]*://\S+", value))
    return any("@" in url.netloc or url.query or url.fragment for url in urls)


def scrub(value: object, exposed: dict[str, str]) -> object:
    if isinstance(value, dict):
        return {key: scrub(item, exposed) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, exposed) for item in value]
    return exposed.get(value, value) if isinstance(value, str) else value


def scrubbed(path: Path, exposed: dict[str, str]) -> object | None:
    """A replay file's contents with the exposed answers redacted; None if it holds none."""
    try:
        text = path.read_text(encoding="utf-8")
        holds = any(json.dumps(secret)[1:-1] in text for secret in exposed)
        return scrub(json.loads(text), exposed) if holds else None
    except (OSError, ValueError):
        return None  # a file that cookiecutter's replay cannot have written


REMOVED = "[removed by the template's pre-gen hook: it carried a credential]"


def forget_credentials(answers: dict) -> str:
    """cookiecutter wrote every answer to its replay file before this hook ran: replace each one
    that carries a credential there. Says what became of the credential. Needs nothing from the
    template, so it runs first, whatever fails after it."""
    exposed = {answers[name]: REMOVED for name in URL_ANSWERS if carries_credential(answers[name])}
    if not exposed:
        return ""
    from cookiecutter.config import get_user_config  # this hook runs on cookiecutter's Python

    replay_dir = Path(get_user_config()["replay_dir"])
    rewritten = []
    for path in sorted(replay_dir.glob("*.json")):
        replay = scrubbed(path, exposed)
        if replay is None:
            continue
        with tempfile.NamedTemporaryFile("w", dir=replay_dir, delete=False) as kept:
            json.dump(replay, kept, indent=2)
        os.replace(kept.name, path)
        rewritten.append(str(path))
    kept_where = (
        f" cookiecutter's replay file ({', '.join(rewritten)}) keeps the answer without it."
        if rewritten
        else ""
    )
    return f"The credential was not stored: nothing was baked.{kept_where}"


def main() -> int:
    Path(__file__).unlink(missing_ok=True)
    note = forget_credentials(ANSWERS)
    sys.dont_write_bytecode = True  # importing from the template must not leave __pycache__
    try:
        root = template_root()
        sys.path.insert(0, str(root / "hooks"))
        import answers
        import template_source

        problems = answers.problems(ANSWERS)
    except BaseException:
        if note:
            print(note, file=sys.stderr)  # what became of the credential, whatever failed
        raise
    for problem in problems:
        print(f"error: {problem}\n", file=sys.stderr)
    if note:
        print(note, file=sys.stderr)
    if problems:
        return 1
    if "_commit" not in ANSWERS:  # plain cookiecutter: record the template as cruft would have
        template_source.record(ANSWERS, root, Path.cwd())
    return 0


if __name__ == "__main__":
    sys.exit(main())
