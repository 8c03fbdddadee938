"""The checks a bake applies to its answers, one entry per answer, for every way of baking.

cookiecutter and cruft run them all in the pre-gen hook (pre_gen_project.py); copier runs each as
its question's validator (copier_extension.py). The rules themselves live in the baked package
(image_tasks/validation.py, index/url.py, index/cloud.py, engine/base_images.py), where the tasks
apply them to the same values after baking; this module imports them from the template's project
folder, writing no byte code there.
"""

import importlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

TEMPLATE_FOLDER = Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug}}"


def _baked(*names: str) -> list[ModuleType]:
    """Modules of this template's own image_tasks package. copier update renders two versions of
    the template in one process, and a bake may run inside a program that imported another
    image_tasks (a test, a task): theirs is set aside while ours loads, then put back."""
    theirs = {name: sys.modules.pop(name) for name in _loaded()}
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    sys.path.insert(0, str(TEMPLATE_FOLDER))
    try:
        return [importlib.import_module(f"image_tasks.{name}") for name in names]
    finally:
        sys.path.remove(str(TEMPLATE_FOLDER))
        sys.dont_write_bytecode = writes_bytecode
        for name in _loaded():
            del sys.modules[name]
        sys.modules.update(theirs)


def _loaded() -> list[str]:
    return [name for name in sys.modules if name.split(".")[0] == "image_tasks"]


validation, index_url, base_images, cloud_index, errors = _baked(
    "validation", "index.url", "engine.base_images", "index.cloud", "errors"
)
TaskError = errors.TaskError

Answers = Mapping[str, str]


def check_private_index_url(answers: Answers) -> None:
    """A URL the tasks accept; for a cloud index, its repository's URL, which names the cloud
    account, region or project the workflow mints its token in."""
    url = index_url.check_index_url(answers["private_index_url"])
    cloud_index.cloud_index_names(url, answers["index_auth"])


def implied(base_image: str, fact: str, otherwise: str) -> str:
    """What a well-known base image's tag says of an answer asked after it (its Ray release, its
    Python, the uid or gid it runs as), else `otherwise`: the answer's default. A tag the checks
    refuse implies nothing; the pre-gen hook says what is wrong with it."""
    value = getattr(base_images.stated(base_image), fact)
    return otherwise if value is None else str(value)


def cloud_names(url: str, index_auth: str) -> dict[str, str]:
    """The cloud names in a checked index URL, for the files (the account, the region...)."""
    try:
        return cloud_index.cloud_index_names(url, index_auth)
    except TaskError:
        return {}  # the pre-gen hook refuses the URL before any file is rendered


# The filters that derive answers from earlier ones, for cookiecutter (cookiecutter_extension.py)
# and copier (copier_extension.py) alike.
FILTERS = {"implied": implied, "cloud_names": cloud_names}


CHECKS: dict[str, Callable[[Answers], object]] = {
    "project_name": lambda a: validation.check_project_name(a["project_name"]),
    "project_slug": lambda a: validation.check_slug(a["project_slug"]),
    "image_name": lambda a: validation.check_image(
        a["image_name"], what="image name", allow_tag=False
    ),
    "base_image": lambda a: (
        validation.check_image(a["base_image"], what="base image", allow_tag=True),
        base_images.check_base_image(a["base_image"]),
    ),
    # The answers after the base image default to what its tag says; one that contradicts the
    # tag is refused.
    "ray_version": lambda a: base_images.check_ray_version(a["ray_version"], a["base_image"]),
    "python_version": lambda a: base_images.check_python_version(
        a["python_version"], a["base_image"]
    ),
    "base_image_uid": lambda a: validation.check_id(a["base_image_uid"], what="base image UID"),
    "base_image_gid": lambda a: (
        validation.check_id(a["base_image_gid"], what="base image GID"),
        # the installing user must be the base image's own (the secret mount is its uid's)
        not problem("base_image_uid", a)
        and base_images.check_base_user(a["base_image"], a["base_image_uid"], a["base_image_gid"]),
    ),
    "private_index_url": check_private_index_url,
    "private_packages": lambda a: validation.split_requirements(a["private_packages"]),
}


def problem(name: str, answers: Answers) -> str:
    """Why the answer to `name` is refused, in one paragraph that says what to do; "" if not."""
    check = CHECKS.get(name)
    try:
        check and check(answers)
    except TaskError as error:
        return str(error)
    return ""


def problems(answers: Answers) -> list[str]:
    """Every refusal, in the order the questions are asked."""
    return [message for name in CHECKS if (message := problem(name, answers))]
