"""Build, audit, test and lint the Ray runtime image: the logic behind noxfile.py and tasks.py.

Standard library only, so every front door (nox, invoke, ``python -m image_tasks``) can import it
before any virtualenv exists.
"""

# The template's version: declared here once, copied verbatim into every baked repository.
__version__ = "2.0.0"
