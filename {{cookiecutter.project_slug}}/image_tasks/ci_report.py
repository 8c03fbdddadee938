"""What a task tells GitHub Actions when it runs there: a step output, a job summary. Both are
files the runner names in the environment; elsewhere these do nothing. Never a secret."""

import os


def output(name: str, value: str) -> None:
    _append("GITHUB_OUTPUT", f"{name}={value}\n")


def summary(markdown: str) -> None:
    _append("GITHUB_STEP_SUMMARY", markdown.rstrip("\n") + "\n\n")


def _append(variable: str, text: str) -> None:
    path = os.environ.get(variable)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
