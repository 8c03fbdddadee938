"""What the image lacks that a cluster needs: a test raises Missing, and the run ends with one
paragraph saying what is missing and how to add it (conftest.py gathers them), instead of a
traceback for each test that trips over the same gap."""

# The tools of the exec probes KubeRay v1.7.0 injects: `bash -c "wget ... | grep success"`.
PROBE_TOOLS = ("bash", "wget", "grep")


class Missing(AssertionError):
    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"the image lacks {what}")
        self.what, self.fix = what, fix


def require_probe_tools(probes: dict[str, str]) -> None:
    """Raise Missing for the probe tools the image lacks (probes: in_image.KUBERAY_PROBES's)."""
    lacking = [tool for tool in PROBE_TOOLS if probes[f"tool-{tool}"] != "present"]
    if lacking:
        them = "it" if len(lacking) == 1 else "them"
        raise Missing(
            " and ".join(lacking),
            'KubeRay\'s exec probes run `bash -c "wget ... | grep success"` (every Ray before '
            "2.53, and a RayService worker's Serve check on any Ray). Add "
            f"{them} to the Dockerfile (as root: apt-get install -y --no-install-recommends "
            f"{' '.join(lacking)}) or build on a rayproject/ray base, which has {them}.",
        )
