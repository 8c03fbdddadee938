"""A local password-protected index for trying the whole loop without a company Nexus.

pypiserver serves a wheelhouse folder on loopback, refusing anonymous downloads and listings;
the password is random, stored hashed in an htpasswd file and in clear only in a throwaway netrc
(mode 600, in a private directory that is removed when the index stops). Needs pypiserver and
passlib (the ``index`` dependency group); ``nox -s index`` installs them.
"""

import base64
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


def free_port(port: int | None) -> int:
    """The given port if nothing listens there (else a TaskError), or a free one."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port or 0))
        except OSError:
            raise TaskError(
                f"Port {port} on 127.0.0.1 is taken; choose another with --port, or omit it."
            ) from None
        return probe.getsockname()[1]


def link_netrc(link: Path, target: Path) -> None:
    """A stable path for scripts: a symlink, so the password still lives in one private file.
    Refuses to replace anything but a dangling link left by an earlier index."""
    if link.is_symlink() and not link.exists():
        link.unlink()
    try:
        link.symlink_to(target)
    except OSError as error:
        raise TaskError(
            f"Cannot create --netrc-out {link} ({error.strerror}): give a new path in an "
            "existing folder; an existing file is never replaced."
        ) from None


def write_credentials(directory: Path) -> tuple[Path, Path, str]:
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
    return htpasswd, netrc, password


def answer(url: str, password: str | None = None) -> int | None:
    """The HTTP status for url (with our credential when given), or None if nothing answers."""
    request = urllib.request.Request(url)  # noqa: S310 - a loopback URL we built
    if password:
        token = base64.b64encode(f"{USER}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=1):  # noqa: S310
            return 200
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_until_up(url: str, process: subprocess.Popen, password: str, timeout=30.0) -> None:
    """Until our server answers: anonymous requests refused, our credential accepted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TaskError(f"pypiserver exited with {process.returncode}; its output is above.")
        anonymous = answer(url)
        if anonymous is not None:
            if anonymous != 401 or answer(url, password) != 200:
                raise TaskError(f"Something else answers on {url}; stopping.")
            return
        time.sleep(0.2)
    raise TaskError(f"pypiserver did not answer on {url} within {timeout:.0f} s.")


def serve(wheelhouse: str, port: int | None = None, netrc_out: str | None = None) -> int:
    """Serve WHEELHOUSE on 127.0.0.1 until interrupted; print how to build against it."""
    folder = Path(wheelhouse).resolve()
    if not folder.is_dir():
        raise TaskError(
            f"The wheelhouse {folder} is not a folder. Put the wheels the image needs there "
            "(`pip wheel --no-deps --wheel-dir wheelhouse PATH/TO/YOUR/PACKAGE`)."
        )
    server = shutil.which("pypi-server")
    if server is None:
        raise TaskError("pypiserver is not installed: run `nox -s index`, which installs it.")
    port = free_port(port)
    url = f"http://127.0.0.1:{port}/simple/"
    with tempfile.TemporaryDirectory(prefix="local-index-") as private:
        htpasswd, netrc, password = write_credentials(Path(private))
        if netrc_out:
            link_netrc(Path(netrc_out), netrc)
        argv = [server, "run", "--host", "127.0.0.1", "--port", str(port),
                "--passwords", str(htpasswd), "--authenticate", "download,list,update",
                str(folder)]  # fmt: skip
        process = subprocess.Popen(argv)
        try:
            wait_until_up(url, process, password)
            print(
                f"Local index: {url} (user {USER!r}, password in {netrc_out or netrc}).\n"
                f"In another shell:  export PRIVATE_INDEX_URL={url} "
                f"NETRC={netrc_out or netrc}; nox\nStop with Ctrl-C.",
                flush=True,
            )
            for stop in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(stop, lambda *_: process.terminate())
            return process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            process.terminate()
            process.wait(timeout=10)
            if netrc_out and Path(netrc_out).is_symlink():
                Path(netrc_out).unlink()
