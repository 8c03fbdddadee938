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
    the template in one process, so a package another version loaded is set aside first."""
    for loaded in [m for m in sys.modules if m.split(".")[0] == "image_tasks"]:
        del sys.modules[loaded]
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    sys.path.insert(0, str(TEMPLATE_FOLDER))
    try:
        return [importlib.import_module(f"image_tasks.{name}") for name in names]
    finally:
        sys.path.remove(str(TEMPLATE_FOLDER))
        sys.dont_write_bytecode = writes_bytecode


validation, index_url, base_images, cloud_index, errors = _baked(
    "validation", "index.url", "engine.base_images", "index.cloud", "errors"
)
TaskError = errors.TaskError

Answers = Mapping[str, str]
AWS, GOOGLE = "aws-codeartifact", "google-artifact-registry"

# Which answers name the index, for each index_auth that mints its own token.
CLOUD_ANSWERS = {
    AWS: {
        "aws_account_id": "AWS account ID",
        "aws_region": "AWS region",
        "aws_codeartifact_domain": "CodeArtifact domain",
        "aws_codeartifact_repository": "CodeArtifact repository",
    },
    GOOGLE: {
        "gcp_project": "Google Cloud project ID",
        "gcp_location": "Artifact Registry location",
        "gcp_repository": "Artifact Registry repository",
    },
}


def cloud_index_url(answers: Answers) -> str | None:
    """The index URL the cloud answers locate, or None for netrc-secret."""
    if answers["index_auth"] == AWS:
        return cloud_index.codeartifact_index_url(
            domain=answers["aws_codeartifact_domain"],
            account=answers["aws_account_id"],
            region=answers["aws_region"],
            repository=answers["aws_codeartifact_repository"],
        )
    if answers["index_auth"] == GOOGLE:
        return cloud_index.artifact_registry_index_url(
            location=answers["gcp_location"],
            project=answers["gcp_project"],
            repository=answers["gcp_repository"],
        )
    return None


def check_private_index_url(answers: Answers) -> None:
    """A URL the tasks accept; for a cloud index, also the one its names locate (once they pass,
    so that a bad name is reported once, at its own question)."""
    url = index_url.check_index_url(answers["private_index_url"])
    expected = cloud_index_url(answers)
    if expected is not None and all(
        not problem(name, answers) for name in CLOUD_ANSWERS[answers["index_auth"]]
    ):
        cloud_index.check_cloud_index_url(url, expected=expected, index_auth=answers["index_auth"])


def check_cloud_name(name: str) -> Callable[[Answers], object]:
    """The check of one cloud answer: only the chosen index_auth's answers are needed."""

    def check(answers: Answers) -> object:
        index_auth = answers["index_auth"]
        what = CLOUD_ANSWERS.get(index_auth, {}).get(name)
        return what and cloud_index.check_cloud_name(
            answers[name], what=what, index_auth=index_auth
        )

    return check


CHECKS: dict[str, Callable[[Answers], object]] = {
    "project_name": lambda a: validation.check_project_name(a["project_name"]),
    "project_slug": lambda a: validation.check_slug(a["project_slug"]),
    "image_name": lambda a: validation.check_image(
        a["image_name"], what="image name", allow_tag=False
    ),
    "base_image": lambda a: (
        validation.check_image(a["base_image"], what="base image", allow_tag=True),
        base_images.check_versions(a["ray_version"], a["python_version"], a["base_image"]),
    ),
    "base_image_uid": lambda a: validation.check_id(a["base_image_uid"], what="base image UID"),
    "base_image_gid": lambda a: (
        validation.check_id(a["base_image_gid"], what="base image GID"),
        # the installing user must be the base image's own (the secret mount is its uid's)
        not problem("base_image_uid", a)
        and base_images.check_base_user(a["base_image"], a["base_image_uid"], a["base_image_gid"]),
    ),
    **{name: check_cloud_name(name) for names in CLOUD_ANSWERS.values() for name in names},
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
