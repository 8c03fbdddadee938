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
# The hook runs in the new project's folder; a relative template path ("cookiecutter .") is
# relative to where the user started cookiecutter, which the shell keeps in PWD.
REPO = os.path.join(os.environ.get("PWD", ""), os.path.expanduser(ANSWERS["_repo_dir"]))
sys.path.insert(0, os.path.join(REPO, TEMPLATE_FOLDER))

from image_tasks import validation  # noqa: E402
from image_tasks.errors import TaskError  # noqa: E402

CHECKS = (
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
