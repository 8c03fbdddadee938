"""Where a failed build stopped, read from the engine's own output: the Dockerfile step that
failed and the last line it printed. BuildKit (docker buildx, docker with BuildKit) numbers its
steps (`#6 [3/3] RUN ...`, `#6 0.13 what it printed`, `#6 ERROR: ...`); podman and buildah
print `STEP 3/3: RUN ...`, what it printed, then `Error: building at STEP "RUN ...": ...`."""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FailedStep:
    instruction: str  # as the engine shows it: "RUN cp missing.txt /opt/"
    said: str  # the last line the step printed; "" if it printed none

    @property
    def installs(self) -> bool:
        """The install step: the one RUN that mounts the index credential."""
        return "--mount=type=secret" in self.instruction


def failed_step(output: str) -> FailedStep | None:
    """The step the engine reports as failed, or None when its output names none."""
    return _buildkit(output) or _podman(output)


def _buildkit(output: str) -> FailedStep | None:
    failed = re.findall(r"^#(\d+) ERROR: ", output, re.M)
    if not failed:
        return None
    step = failed[-1]
    started = re.search(rf"^#{step} \[[^\]]*\] (.+)$", output, re.M)
    if started is None:
        return None
    printed = re.findall(rf"^#{step} \d+\.\d+ (.*\S)", output, re.M)
    return FailedStep(started[1].strip(), printed[-1].strip() if printed else "")


def _podman(output: str) -> FailedStep | None:
    failed = re.search(r'^Error: building at STEP "(.+?)": ', output, re.M)
    if failed is None:
        return None
    instruction = failed[1]
    started = output.rfind(f": {instruction}\n", 0, failed.start())
    printed = output[started + len(instruction) + 3 : failed.start()] if started >= 0 else ""
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    return FailedStep(instruction, lines[-1] if lines else "")
