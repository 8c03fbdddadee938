"""Write requirements.in from the answers; idempotent, so safe to re-run under `cruft update`.

No git init, no network, no container engine. It splits the comma-separated list with the rule the
pre-gen hook checked it with (copier renders the same file through copier_extension.py). It gets
only the one answer it needs: cookiecutter leaves this rendered copy in the temporary directory,
so it deletes itself as well.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in the baked repository
# Spaced off the quotes: the JSON string's own closing quote must not run into them.
PRIVATE_PACKAGES = json.loads(r""" {{ cookiecutter.private_packages | tojson }} """)
sys.path.insert(0, os.getcwd())  # the baked repository: its image_tasks package

from image_tasks.validation import requirements_file  # noqa: E402


def main() -> None:
    Path(__file__).unlink(missing_ok=True)
    Path("requirements.in").write_text(requirements_file(PRIVATE_PACKAGES), encoding="utf-8")
    here = Path.cwd()
    # cruft update bakes old and new into temporary folders: no "what next" for those
    if not here.is_relative_to(Path(tempfile.gettempdir()).resolve()):
        print(
            f'Baked {here}. Next: cd {here}, follow its README.md ("Set up once": the index '
            "credential, the CI secret, the tools), then `nox -s lock` to pin the private "
            "packages, and `nox` to build, audit and test."
        )


if __name__ == "__main__":
    main()
