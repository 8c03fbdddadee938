"""Front door 2: invoke tasks, one a task of image_tasks.tasks.TASKS, as the nox sessions are.

invoke build --netrc ~/.netrc
invoke audit test lint
invoke publish --tag ghcr.io/acme/ray-runtime:1.0
invoke cluster --workers 3
"""

import inspect

from invoke import Collection, Exit
from invoke import Task as InvokeTask

from image_tasks.__main__ import main
from image_tasks.tasks import TASKS, Option, Task


def invoke_task(task: Task) -> InvokeTask:
    """The task as invoke offers it: the same options, run through the image_tasks command line,
    whose exit status becomes invoke's."""

    def body(c, **values) -> None:
        status = main([task.name, *(arg for o in task.options for arg in argv(o, values[o.name]))])
        if status:
            raise Exit(code=status)

    context = inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    body.__signature__ = inspect.Signature([context, *map(parameter, task.options)])
    body.__doc__ = task.summary
    return InvokeTask(
        body,
        name=task.name,
        help={o.name: task.help(o) for o in task.options},
        iterable=[o.name for o in task.options if o.kind == "repeat"],
    )


def parameter(option: Option) -> inspect.Parameter:
    default = {"positional": inspect.Parameter.empty, "on": False, "off": False}
    return inspect.Parameter(
        option.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default.get(option.kind)
    )


def argv(option: Option, value) -> list[str]:
    """The option's words on the image_tasks command line, for the value invoke parsed."""
    if option.kind == "positional":
        return [value]
    if option.kind in ("on", "off"):
        return [option.flag] if value else []
    if option.kind == "repeat":
        return [word for item in value or () for word in (option.flag, item)]
    return [option.flag, str(value)] if value is not None else []


namespace = Collection(*map(invoke_task, TASKS.values()))
