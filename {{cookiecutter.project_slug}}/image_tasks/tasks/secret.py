"""The secret task: the value of CI's NET_RC secret, the index host's netrc entry alone, written
to a pipe: `python3 -m image_tasks secret | gh secret set NET_RC`. No other host's password
leaves the machine, and none reaches a terminal."""

import sys
from urllib.parse import urlsplit

from image_tasks import settings
from image_tasks.credentials import netrc_file
from image_tasks.engine.build_secrets import BuildSecret
from image_tasks.errors import TaskError


def secret(*, netrc: str | None = None) -> int:
    """Write CI's NET_RC secret to standard output: the index host's netrc entry alone, for
    `python3 -m image_tasks secret | gh secret set NET_RC`. Refuses a terminal."""
    if sys.stdout.isatty():
        raise TaskError(
            "This writes the index password to standard output: pipe it into the GitHub CLI, "
            "`python3 -m image_tasks secret | gh secret set NET_RC` (and `... --app dependabot` "
            "for Dependabot's pull requests), never to a terminal."
        )
    config = settings.load()
    credential = netrc_file.resolve(netrc, config.index_url)
    login, password = netrc_file.login_for(credential, config.index_url)
    host = urlsplit(config.index_url).hostname or ""
    sys.stdout.write(BuildSecret(host, login, password).entry)
    sys.stdout.flush()
    print(f"Wrote the {host} entry of {credential.origin}, and no other.", file=sys.stderr)
    return 0
