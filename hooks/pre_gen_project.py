"""Refuse answers that would bake a broken or leaking repository, before any file is written.

Answers arrive through ``tojson``, never pasted raw into Python source. The checks themselves live
in the baked package (image_tasks/validation.py), so the hook and the build tasks apply one rule.
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # importing from the template folder must not leave __pycache__
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
TEMPLATE_FOLDER = "{% raw %}{{cookiecutter.project_slug}}{% endraw %}"


def template_folder() -> str:
    """The template's project folder. The hook runs in the new project's folder, and a relative
    template path ("cookiecutter .") is relative to where cookiecutter started: the shell's PWD,
    or the cookiecutter process's working directory, which it sets to the template meanwhile."""
    repo = os.path.expanduser(ANSWERS["_repo_dir"])
    candidates = [repo] if os.path.isabs(repo) else []
    candidates += [os.path.join(os.environ.get("PWD", ""), repo), f"/proc/{os.getppid()}/cwd"]
    for candidate in candidates:
        folder = os.path.join(candidate, TEMPLATE_FOLDER)
        if os.path.isfile(os.path.join(folder, "image_tasks", "validation.py")):
            return folder
    sys.exit(
        "error: cannot find the template's files from this hook; run cookiecutter with an "
        'absolute template path (e.g. `cookiecutter "$PWD"`).'
    )


sys.path.insert(0, template_folder())

from image_tasks import validation  # noqa: E402
from image_tasks.errors import TaskError  # noqa: E402

CHECKS = (
    lambda: validation.check_project_name(ANSWERS["project_name"]),
    lambda: validation.check_slug(ANSWERS["project_slug"]),
    lambda: validation.check_image(ANSWERS["image_name"], what="image name", allow_tag=False),
    lambda: validation.check_image(ANSWERS["base_image"], what="base image", allow_tag=True),
    lambda: validation.check_versions(
        ANSWERS["ray_version"], ANSWERS["python_version"], ANSWERS["base_image"]
    ),
    lambda: validation.check_id(ANSWERS["base_image_uid"], what="base image UID"),
    lambda: validation.check_id(ANSWERS["base_image_gid"], what="base image GID"),
    lambda: validation.check_index_url(ANSWERS["private_index_url"]),
    lambda: validation.split_requirements(ANSWERS["private_packages"]),
    lambda: (
        ANSWERS["dockerfile_syntax"]
        and validation.check_image(
            ANSWERS["dockerfile_syntax"], what="Dockerfile syntax", allow_tag=True
        )
    ),
)


def main() -> int:
    problems = []
    for check in CHECKS:
        try:
            check()
        except TaskError as error:
            problems.append(str(error))
    for problem in problems:
        print(f"error: {problem}\n", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
