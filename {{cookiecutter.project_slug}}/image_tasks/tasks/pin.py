"""The pin task: point deploy/ at an image CI published, by digest (`ray.deploy`)."""

from image_tasks import validation
from image_tasks.errors import TaskError
from image_tasks.ray import deploy


def pin(image: str) -> int:
    """Pin deploy/ to a published image by digest (NAME@sha256:...), as publish does."""
    match = validation.IMAGE_REFERENCE.fullmatch(image)
    if match is None or not match["digest"] or match["tag"]:
        raise TaskError(
            f"{image!r} is not an image by digest: give NAME@sha256:..., as publish prints it "
            "(and CI's job summary shows it)."
        )
    if not deploy.pin(image):
        raise TaskError(f"This repository has no {deploy.COMPONENT}; nothing to pin.")
    print(f"deploy/ now runs {image} ({deploy.COMPONENT}); commit that.")
    return 0
