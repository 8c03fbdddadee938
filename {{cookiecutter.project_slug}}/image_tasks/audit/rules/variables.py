"""Names of variables that say they hold a secret, and values that are no secret whatever the
name (the ``secret-variable`` rule: ENV, LABEL, build arguments; ``secret-assignment``: lines
in files)."""

from __future__ import annotations

import re

# Names of variables that carry secrets (matched on the upper-cased name, '.' and '-' as '_').
SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASS|PASSWORD|PASSWD|PWD|TOKEN|SECRET|APIKEY|API_KEY|ACCESS_KEY|PRIVATE_KEY|"
    r"SECRET_KEY|CREDENTIALS?|AUTH|NETRC|NET_RC)(?:$|_)"
)
# In files, where every settings module has AUTH_BACKEND=... and NETRC names a file: fewer,
# and last in the name (NEXUS_PASSWORD, client_secret; not token_ids).
FILE_SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASS|PASSWORD|PASSWD|PWD|TOKEN|SECRET|APIKEY|API_KEY|ACCESS_KEY|PRIVATE_KEY|"
    r"SECRET_KEY|CLIENT_SECRET|CREDENTIALS?)$"
)
NOT_SECRET_NAME = re.compile(
    r"(?:_FILE|_PATH|_DIR|_URL|_ID|_HOST|_USER|_USERNAME|_TYPE|_METHOD|_ENABLED|_MODE|"
    r"_LENGTH|_EXPIRY|_PROVIDER|_PROMPT|_FIELD|_NAME|_PARAM|_ENDPOINT|_TTL|_TIMEOUT)$"
    r"|^GPG_KEY$|PUBLIC_KEY"
)
# Values that are no secret: a path (/..., ./..., ~/...), a source named by a lower-case scheme
# (file:..., env:VAR, openssl's pass:..., a URL without userinfo), a number, a dotted name
# (code: args.api_key, settings.SECRET_KEY; a module path).
NOT_SECRET_VALUE = re.compile(
    r"[/~.]\S*|[a-z][a-z0-9+.\-]*:(?://[^@\s]*|[^/\s]\S*)?|[0-9]+"
    r"|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+"
)
