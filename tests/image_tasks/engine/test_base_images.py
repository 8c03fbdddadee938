"""Base images the way their publishers tag them: rayproject/ray's and python's official tags
are read, give the answers asked after the base image (Ray, Python, the user it runs as), and
refuse an answer that contradicts them."""

import pytest
from image_tasks.engine.base_images import (
    base_image_facts,
    check_base_image,
    check_base_user,
    check_python_version,
    check_ray_version,
)
from image_tasks.errors import TaskError

ACCEPTED = {
    "rayproject/ray:2.60.0-py311": ("2.60.0", "3.11", False),
    "rayproject/ray:2.60.0-py311-cpu": ("2.60.0", "3.11", False),
    "rayproject/ray:2.60.0-py312-gpu": ("2.60.0", "3.12", True),
    "rayproject/ray:2.60.0-py311-cu128": ("2.60.0", "3.11", True),
    "rayproject/ray:2.60.0-py311-cu121-aarch64": ("2.60.0", "3.11", True),
    "rayproject/ray:2.60.0-py311-aarch64": ("2.60.0", "3.11", False),
    "docker.io/rayproject/ray:2.60.0-py310@sha256:" + "ab" * 32: ("2.60.0", "3.10", False),
    "rayproject/ray-ml:2.60.0-py311": ("2.60.0", "3.11", True),  # ray-ml defaults to gpu
}


@pytest.mark.parametrize("reference", ACCEPTED)
def test_official_ray_tags_are_read_and_accepted(reference):
    ray, python, cuda = ACCEPTED[reference]
    facts = base_image_facts(reference)
    assert (facts.ray, facts.python, facts.cuda) == (ray, python, cuda)
    assert (facts.user, facts.uid, facts.gid) == ("ray", 1000, 100)
    check_base_image(reference)
    check_ray_version(ray, reference)
    check_python_version(python, reference)
    check_base_user(reference, "1000", "100")


@pytest.mark.parametrize(
    ("reference", "python"),
    [("python:3.12-slim", "3.12"), ("python:3.11-slim-bookworm", "3.11"), ("python:3.13", "3.13")],
)
def test_python_images_run_as_root(reference, python):
    facts = base_image_facts(reference)
    assert (facts.python, facts.user, facts.uid, facts.gid) == (python, "root", 0, 0)
    check_ray_version("2.60.0", reference)  # a python image has no Ray of its own
    check_python_version(python, reference)
    check_base_user(reference, "0", "0")


REFUSED = {
    "ray-mismatch": (
        check_ray_version,
        ("2.9.0", "rayproject/ray:2.60.0-py311"),
        "ships Ray 2.60.0",
    ),
    "python-mismatch": (
        check_python_version,
        ("3.12", "rayproject/ray:2.60.0-py311"),
        "ships Python 3.11, but the Python version answer is 3.12. Answer 3.11",
    ),
    "no-python": (check_base_image, ("rayproject/ray:2.60.0-gpu",), "add -pyXY"),
    "moving-tag": (check_base_image, ("rayproject/ray:latest-py311",), "names no Ray release"),
    "nightly": (check_base_image, ("rayproject/ray:nightly-py311-cpu",), "names no Ray release"),
    "unknown-platform": (check_base_image, ("rayproject/ray:2.60.0-py311-tpu",), "not a tag"),
    "slim-python-mismatch": (
        check_python_version,
        ("3.11", "python:3.12-slim"),
        "ships Python 3.12",
    ),
    "python-latest": (check_base_image, ("python:latest",), "not a python tag"),
}


@pytest.mark.parametrize(("check", "arguments", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_tags_that_disagree_are_refused(check, arguments, message):
    with pytest.raises(TaskError, match=message) as refused:
        check(*arguments)
    assert arguments[-1] in str(refused.value)


def test_a_refused_tag_is_named_once():
    """The answers after a base image the checks refuse are not refused again for it."""
    for reference in ("rayproject/ray:latest-py311", "rayproject/ray:2.60.0-gpu", "python:latest"):
        check_ray_version("2.60.0", reference)
        check_python_version("3.11", reference)
        check_base_user(reference, "1000", "100")


def test_other_images_are_not_second_guessed():
    facts = base_image_facts("registry.example.com:5000/team/ray-base:2024-05")
    assert facts.publisher is None and facts.uid is None
    check_base_image("registry.example.com:5000/team/ray-base:2024-05")
    check_ray_version("2.60.0", "registry.example.com:5000/team/ray-base:2024-05")
    check_python_version("3.11", "registry.example.com:5000/team/ray-base:2024-05")
    check_base_user("registry.example.com:5000/team/ray-base", "1234", "0")


@pytest.mark.parametrize(
    ("reference", "uid", "gid", "says"),
    [
        ("rayproject/ray:2.60.0-py311", "0", "0", "runs as ray, 1000:100"),
        ("python:3.12-slim", "1000", "100", "runs as root, 0:0"),
    ],
)
def test_user_answers_must_match_the_official_image(reference, uid, gid, says):
    with pytest.raises(TaskError, match=says):
        check_base_user(reference, uid, gid)
