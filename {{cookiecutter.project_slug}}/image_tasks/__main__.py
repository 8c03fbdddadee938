"""python -m image_tasks TASK [options]: the tasks with their options, as the front doors call them.

Exit status 0 on success; a TaskError prints its one-paragraph message and exits 2 (the audit's
own statuses pass through: 1 means findings).
"""

import argparse
import sys

from image_tasks.errors import TaskError
from image_tasks.tasks import TASKS, Option, Task


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m image_tasks", description=__doc__)
    tasks = top.add_subparsers(dest="task", required=True)
    for task in TASKS.values():
        sub = tasks.add_parser(task.name, help=task.summary, description=task.summary)
        for option in task.options:
            sub.add_argument(option.flag, **_argument(task, option), help=task.help(option))
        for flag in task.ignores:
            sub.add_argument(flag, dest="ignored", help=argparse.SUPPRESS)
    return top


def _argument(task: Task, option: Option) -> dict:
    """argparse's keywords for one option; its default is the function's."""
    if option.kind == "positional":
        return {"metavar": option.metavar}
    if option.kind in ("on", "off"):
        action = "store_true" if option.kind == "on" else "store_false"
        return {"dest": option.dest, "action": action}
    if option.kind == "repeat":
        return {"dest": option.dest, "action": "append", "default": [], "metavar": option.metavar}
    return {"dest": option.dest, "type": option.type, "default": task.default(option),
            "choices": option.choices or None, "metavar": option.metavar}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    arguments, extra = parser().parse_known_args(argv)
    task = TASKS[arguments.task]
    options = {o.dest: getattr(arguments, o.dest) for o in task.options}
    if task.rest:
        options[task.rest] = extra
    elif extra:
        parser().error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return task.function(**options)
    except TaskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
