"""Base images the way their publishers tag them: what an official tag says (Ray and Python
versions, CUDA, the user it runs as). The bake (hooks/answers.py) derives the answers asked after
the base image from it, and checks them against it."""

import re
from dataclasses import dataclass

from image_tasks.errors import TaskError

# Official base images, as their publishers tag them. rayproject/ray and rayproject/ray-ml:
# {Ray version}[-py{XY}][-{cpu|gpu|cuXYZ}][-aarch64] (no platform: cpu for ray, gpu for ray-ml;
# gpu aliases a cuXYZ); they run as user ray, 1000:100. python (Docker Official Images):
# {X.Y[.Z]}[-slim][-{debian release}]; root, 0:0, so the Dockerfile adds user ray.
_RAY_REPOSITORY = re.compile(r"(?:docker\.io/)?rayproject/(?P<repo>ray|ray-ml)")
_RAY_TAG = re.compile(
    r"(?P<ray>\d+\.\d+\.\d+|latest|nightly|[0-9a-f]{6})(?:-py(?P<py>3\d{1,2}))?"
    r"(?:-(?P<platform>cpu|gpu|cu\d{2,3}))?(?:-(?P<arch>aarch64))?"
)
_PYTHON_REPOSITORY = re.compile(r"(?:docker\.io/)?(?:library/)?python")
_PYTHON_TAG = re.compile(r"(?P<py>3\.\d{1,2})(?:\.\d+)?(?:-slim)?(?:-[a-z]+)?")


@dataclass(frozen=True)
class BaseImage:
    """What an official base image's tag says; None for what it does not say (or other images)."""

    publisher: str | None  # "rayproject", "python", or None for any other image
    ray: str | None = None
    python: str | None = None  # "3.11"
    cuda: bool = False
    user: str | None = None
    uid: int | None = None
    gid: int | None = None


def base_image_facts(reference: str) -> BaseImage:
    """What an official tag says; raises for a rayproject or python tag they do not publish."""
    name, _, tag = reference.split("@")[0].rpartition(":")
    if "/" in tag or not name:  # no tag: a registry port, or none at all
        name, tag = reference.split("@")[0], "latest"
    if ray_repository := _RAY_REPOSITORY.fullmatch(name):
        tag_match = _RAY_TAG.fullmatch(tag)
        if tag_match is None:
            raise TaskError(
                f"The base image {reference!r} is not a tag rayproject publishes: they are "
                "RAY[-pyXY][-cpu|-gpu|-cuXYZ][-aarch64], for example "
                "'rayproject/ray:2.60.0-py311' or 'rayproject/ray:2.60.0-py311-cu128'."
            )
        platform = tag_match["platform"] or ("gpu" if ray_repository["repo"] == "ray-ml" else "cpu")
        py = tag_match["py"]
        return BaseImage(
            "rayproject",
            ray=tag_match["ray"],
            python=f"{py[0]}.{py[1:]}" if py else None,
            cuda=platform != "cpu",
            user="ray",
            uid=1000,
            gid=100,
        )
    if _PYTHON_REPOSITORY.fullmatch(name):
        tag_match = _PYTHON_TAG.fullmatch(tag)
        if tag_match is None:
            raise TaskError(
                f"The base image {reference!r} is not a python tag this template supports: use "
                "X.Y[-slim][-DEBIAN], for example 'python:3.12-slim-bookworm'."
            )
        return BaseImage("python", python=tag_match["py"], user="root", uid=0, gid=0)
    return BaseImage(None)


RELEASE = re.compile(r"\d+\.\d+\.\d+")
EXAMPLE = "rayproject/ray:2.60.0-py311"


def check_base_image(base_image: str) -> BaseImage:
    """An official tag names what the answers asked after it are derived from: an exact Ray
    release and its Python."""
    facts = base_image_facts(base_image)
    if facts.publisher == "rayproject" and not RELEASE.fullmatch(facts.ray):
        raise TaskError(
            f"The base image {base_image!r} names no Ray release ({facts.ray} moves): the "
            f"manifests' rayVersion must be the image's exact Ray. Use, for example, {EXAMPLE!r}."
        )
    if facts.publisher == "rayproject" and facts.python is None:
        raise TaskError(
            f"The base image {base_image!r} does not say its Python (the default differs "
            f"between Ray releases): add -pyXY, for example 'rayproject/ray:{facts.ray}-py311'."
        )
    return facts


def stated(base_image: str) -> BaseImage:
    """What the tag says; nothing for a tag that check_base_image refuses (it says why, once)."""
    try:
        return check_base_image(base_image)
    except TaskError:
        return BaseImage(None)


def check_ray_version(ray_version: str, base_image: str) -> None:
    """A Ray release, and the one an official base image ships."""
    if not RELEASE.fullmatch(ray_version):
        raise TaskError(f"The Ray version {ray_version!r} is not X.Y.Z, for example '2.60.0'.")
    facts = stated(base_image)
    if facts.ray and facts.ray != ray_version:
        raise TaskError(
            f"The base image {base_image!r} ships Ray {facts.ray}, but the Ray version answer is "
            f"{ray_version}; the RayCluster's rayVersion must match the image. Answer "
            f"{facts.ray} (the default after this base image), or choose the base image of Ray "
            f"{ray_version}."
        )


def check_python_version(python_version: str, base_image: str) -> None:
    """A Python 3 minor version, and the one an official base image ships."""
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        raise TaskError(f"The Python version {python_version!r} is not 3.X, for example '3.11'.")
    facts = stated(base_image)
    if facts.python and facts.python != python_version:
        raise TaskError(
            f"The base image {base_image!r} ships Python {facts.python}, but the Python version "
            f"answer is {python_version}. Answer {facts.python} (the default after this base "
            f"image), or choose a base image with Python {python_version}."
        )


def check_base_user(base_image: str, uid: str, gid: str) -> None:
    """The base image user answers agree with the official image's own user."""
    facts = stated(base_image)
    if facts.uid is not None and (str(facts.uid), str(facts.gid)) != (uid, gid):
        raise TaskError(
            f"The base image {base_image!r} runs as {facts.user}, "
            f"{facts.uid}:{facts.gid}, but the base image UID:GID answers are {uid}:{gid}; the "
            "secret mount must be readable by the installing user. Answer "
            f"{facts.uid} and {facts.gid} (the defaults after this base image)."
        )
