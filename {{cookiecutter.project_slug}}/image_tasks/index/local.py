"""A local password-protected index for trying the whole loop without a company Nexus.

pypiserver serves a wheelhouse folder on loopback, refusing anonymous downloads and listings,
and answering 404 for any name not in the wheelhouse (its default would redirect unknown names
to public PyPI: dependency confusion). The password is random, stored hashed in an htpasswd
file and in clear only in a throwaway netrc (mode 600, in a private directory). Ctrl-C,
SIGTERM, SIGHUP, or the end of the process that started it (nox, killed, does not pass the
signal on) stop the server and remove that directory. Needs pypiserver and passlib (the
``index`` dependency group); ``nox -s index`` installs them.
"""

import base64
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from image_tasks.errors import TaskError
from image_tasks.index.probe import opener

USER = "local"


class Stopped(Exception):
    """SIGTERM or SIGHUP: stop as Ctrl-C does."""


def _stop(signum, frame) -> None:
    raise Stopped(signum)


def _die_with_this_process() -> None:
    """In the server's child: Linux sends it SIGTERM if the task dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the watch in `_run` still stops it with its parent


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
        with opener(url).open(request, timeout=1):
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


def serve(folder: Path, server: str, port: int, netrc_out: Path | None = None) -> int:
    """Serve the wheelhouse folder with the pypi-server program on 127.0.0.1:port until
    interrupted (0) or the server ends (its status); print how to build against it."""
    url = f"http://127.0.0.1:{port}/simple/"
    parent = os.getppid()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    try:
        with tempfile.TemporaryDirectory(prefix="local-index-") as private:
            htpasswd, netrc, password = write_credentials(Path(private))
            if netrc_out:
                link_netrc(netrc_out, netrc)
            argv = [server, "run", "--host", "127.0.0.1", "--port", str(port),
                    "--passwords", str(htpasswd), "--authenticate", "download,list,update",
                    "--disable-fallback", str(folder)]  # fmt: skip
            try:
                return _run(argv, url, password, netrc_out or netrc, parent)
            finally:
                if netrc_out and netrc_out.is_symlink():
                    netrc_out.unlink()
    except (KeyboardInterrupt, Stopped):
        return 0


def _run(argv: list[str], url: str, password: str, netrc: Path, parent: int) -> int:
    """Run pypiserver until it ends, or the task is stopped, or its parent is gone."""
    process = subprocess.Popen(argv, preexec_fn=_die_with_this_process)
    try:
        wait_until_up(url, process, password)
        print(
            f"Local index: {url} (user {USER!r}, password in {netrc}).\n"
            f"In another shell:  export PRIVATE_INDEX_URL={url} NETRC={netrc}; nox\n"
            "Stop with Ctrl-C.",
            flush=True,
        )
        while process.poll() is None and os.getppid() == parent:
            time.sleep(0.5)  # a new parent means whoever started the task has gone
        return process.returncode or 0
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # a server that ignores SIGTERM must not outlive the task
            process.wait()
