"""The one table of tasks and the front doors made from it: every option reaches the task's
function under its own keyword, through argparse and through invoke alike; nox and invoke list
every task with its docstring's first paragraph. (Each door run for real: tests/e2e.)"""

import importlib.util
import inspect
import subprocess

import pytest
from baking import TEMPLATE, bake, tool
from image_tasks.__main__ import parser
from image_tasks.tasks import TASKS

FRONT_DOOR = TEMPLATE / "{{cookiecutter.project_slug}}" / "tasks.py"
SAMPLES = {str: "x", int: "3", float: "2.5"}


def invoke_module():
    spec = importlib.util.spec_from_file_location("invoke_front_door", FRONT_DOOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample(option):
    """A value invoke could have parsed for the option."""
    if option.kind in ("on", "off"):
        return True
    if option.kind == "repeat":
        return ["a:1", "b:2"]
    return option.choices[-1] if option.choices else SAMPLES[option.type]


@pytest.mark.parametrize("name", TASKS)
def test_every_option_reaches_the_function_through_both_doors(name):
    task, door = TASKS[name], invoke_module()
    keywords = set(inspect.signature(task.function).parameters) - {task.rest}
    assert {option.dest for option in task.options} == keywords

    values = {option.name: sample(option) for option in task.options}
    argv = [word for option in task.options for word in door.argv(option, values[option.name])]
    parsed = vars(parser().parse_args([name, *argv]))
    for option in task.options:
        expected = {"on": True, "off": False}.get(option.kind, values[option.name])
        if option.kind not in ("on", "off", "repeat"):
            expected = option.type(expected)
        assert parsed[option.dest] == expected, option.flag

    invoked = door.invoke_task(task)
    assert invoked.name == name and invoked.__doc__ == task.summary
    assert set(invoked.help) == {option.name for option in task.options}


def test_unset_options_take_the_functions_defaults():
    for name, task in TASKS.items():
        if any(option.kind == "positional" for option in task.options):
            continue
        parsed = vars(parser().parse_args([name]))
        defaults = inspect.signature(task.function).parameters
        for option in task.options:
            found, default = parsed[option.dest], defaults[option.dest].default
            if option.kind == "repeat":  # argparse appends to a list; the function takes any
                found, default = list(found), list(default)
            assert found == default, (name, option.flag)


def test_nox_and_invoke_list_every_task_with_its_help(tmp_path):
    project = bake(tmp_path)
    nox = subprocess.run(
        [tool("nox"), "--list"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    listed = {line[2:].split(" -> ")[0]: line.split(" -> ")[1] for line in nox.splitlines()
              if " -> " in line}  # fmt: skip
    assert listed == {name: task.summary for name, task in TASKS.items()}
    invoke = subprocess.run(
        [tool("invoke"), "--list"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    assert sorted(line.split()[0] for line in invoke.splitlines()[2:] if line.strip()
                  and not line.startswith("    ")) == sorted(TASKS)  # fmt: skip
