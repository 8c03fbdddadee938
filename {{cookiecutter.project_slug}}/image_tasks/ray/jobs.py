"""A small client for the Ray head's dashboard: the Jobs REST API and the state API's node list.

Standard library only (urllib). Every call has a timeout; a head that does not answer yet is None
or an empty list, so callers can poll it while it starts. Every call carries the cluster's token
(Ray's token authentication) as a bearer token; a head that refuses it is a TaskError.
"""

import contextlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from image_tasks.errors import TaskError

FINISHED = {"SUCCEEDED", "FAILED", "STOPPED"}


@dataclass(frozen=True)
class Dashboard:
    url: str  # http://HOST:PORT of the head's dashboard
    token: str = field(repr=False)  # RAY_AUTH_TOKEN of the cluster: never printed

    def _call(self, path: str, body: dict | None = None, timeout: float = 10) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        # The head's loopback URL, built by the cluster task: http:// only.
        request = urllib.request.Request(self.url + path, data=data, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):  # Ray's token middleware: no token, or not this one
                raise TaskError(
                    f"The Ray dashboard at {self.url} refused this run's token (HTTP "
                    f"{error.code}): another Ray cluster may be answering on that address. Run "
                    "the task again (it picks new ports)."
                ) from None
            raise

    def answers_anonymous(self) -> bool:
        """Whether the dashboard answers a request without the token, i.e. Ray's token
        authentication is off (an error, 401 included, counts as refusing)."""
        try:
            urllib.request.urlopen(self.url + "/api/version", timeout=10).close()  # noqa: S310
        except OSError:
            return False
        return True

    def ray_version(self) -> str | None:
        """The head's Ray version, or None while its dashboard does not answer."""
        try:
            return self._call("/api/version", timeout=3).get("ray_version")
        except (OSError, ValueError):
            return None

    def alive_nodes(self) -> list[dict]:
        """The nodes the head's GCS reports ALIVE (node_id, node_ip, is_head_node, ...)."""
        try:
            answer = self._call("/api/v0/nodes?limit=1000&detail=false", timeout=10)
        except (OSError, ValueError):
            return []
        nodes = answer.get("data", {}).get("result", {}).get("result", [])
        return [node for node in nodes if node.get("state") == "ALIVE"]

    def submit(self, entrypoint: str, submission_id: str) -> None:
        try:
            self._call("/api/jobs/", {"entrypoint": entrypoint, "submission_id": submission_id})
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[-800:]
            raise TaskError(
                f"The head's Jobs API refused the smoke job (HTTP {error.code}: {detail}). The "
                "image's Ray must include the job server: install ray[default], not bare ray."
            ) from None
        except OSError as error:
            raise TaskError(
                f"The head's Jobs API at {self.url} did not take the smoke job ({error}). Check "
                "the head container's log (it is printed above when the head exits)."
            ) from None

    def wait(self, submission_id: str, timeout: float) -> dict:
        """Poll the job until it finishes; its last status record (status, message)."""
        deadline = time.monotonic() + timeout
        status: dict = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):  # a slow head: poll on
                status = self._call(f"/api/jobs/{submission_id}")
            if status.get("status") in FINISHED:
                return status
            time.sleep(1)
        self.stop(submission_id)
        return {**status, "status": "TIMEOUT", "message": f"not finished within {timeout:.0f} s"}

    def logs(self, submission_id: str) -> str:
        try:
            return self._call(f"/api/jobs/{submission_id}/logs").get("logs", "")
        except (OSError, ValueError):
            return ""

    def stop(self, submission_id: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # the containers go next anyway
            self._call(f"/api/jobs/{submission_id}/stop", {})
