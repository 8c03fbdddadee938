"""A local password-protected index for trying the whole loop without a company Nexus.

pypiserver serves a wheelhouse folder on loopback, refusing anonymous downloads and listings;
the password is random, stored hashed in an htpasswd file and in clear only in a throwaway netrc
(mode 600, in a private directory that is removed when the index stops). Needs pypiserver and
passlib (the ``index`` dependency group); ``nox -s index`` installs them.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from image_tasks.errors import TaskError

USER = "local"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_credentials(directory: Path) -> tuple[Path, Path]:
    """A fresh random password: hashed into htpasswd, in clear only in the netrc (mode 600)."""
    try:
        from passlib.apache import HtpasswdFile
    except ImportError:
        raise TaskError(
            "passlib is not installed: run `nox -s index`, which installs it with pypiserver."
        ) from None
    password = secrets.token_urlsafe(24)
    htpasswd = directory / "htpasswd"
    table = HtpasswdFile(str(htpasswd), new=True)
    table.set_password(USER, password)
    table.save()
    netrc = directory / "netrc"
    descriptor = os.open(netrc, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(f"machine 127.0.0.1\nlogin {USER}\npassword {password}\n")
    return htpasswd, netrc


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TaskError(f"pypiserver exited with {process.returncode}; its output is above.")
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback URL we built
        except urllib.error.HTTPError as error:
            if error.code == 401:  # up, and refusing anonymous listings as it should
                return
        except OSError:
            time.sleep(0.2)
        else:
            raise TaskError("The local index answered without authentication; stopping.")
    raise TaskError(f"pypiserver did not answer on {url} within {timeout:.0f} s.")


def serve(wheelhouse: str, port: int | None = None, netrc_out: str | None = None) -> int:
    """Serve WHEELHOUSE on 127.0.0.1 until interrupted; print how to build against it."""
    folder = Path(wheelhouse).resolve()
    if not folder.is_dir():
        raise TaskError(
            f"The wheelhouse {folder} is not a folder. Put the wheels the image needs there "
            "(`pip download --dest wheelhouse PACKAGE`, or `pip wheel` your own package)."
        )
    server = shutil.which("pypi-server")
    if server is None:
        raise TaskError("pypiserver is not installed: run `nox -s index`, which installs it.")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/simple/"
    with tempfile.TemporaryDirectory(prefix="local-index-") as private:
        htpasswd, netrc = write_credentials(Path(private))
        if netrc_out:
            # A stable path for scripts: a symlink, so the secret still lives in one private file.
            link = Path(netrc_out)
            link.unlink(missing_ok=True)
            link.symlink_to(netrc)
        argv = [server, "run", "--host", "127.0.0.1", "--port", str(port),
                "--passwords", str(htpasswd), "--authenticate", "download,list,update",
                str(folder)]  # fmt: skip
        process = subprocess.Popen(argv)
        try:
            wait_until_up(url, process)
            print(
                f"Local index: {url} (user {USER!r}, password in {netrc_out or netrc}).\n"
                f"In another shell:  export PRIVATE_INDEX_URL={url} "
                f"NETRC={netrc_out or netrc}; nox\nStop with Ctrl-C.",
                flush=True,
            )
            signal.signal(signal.SIGTERM, lambda *_: process.terminate())
            return process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            process.terminate()
            process.wait(timeout=10)
            if netrc_out:
                Path(netrc_out).unlink(missing_ok=True)
