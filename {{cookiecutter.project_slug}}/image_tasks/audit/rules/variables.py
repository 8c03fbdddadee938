"""Names of variables that say they hold a secret (the ``secret-variable`` rule: ENV, LABEL,
build arguments)."""

from __future__ import annotations

import re

# Names of variables that carry secrets (matched on the upper-cased name).
SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASS|PASSWORD|PASSWD|PWD|TOKEN|SECRET|APIKEY|API_KEY|ACCESS_KEY|PRIVATE_KEY|"
    r"SECRET_KEY|CREDENTIALS?|AUTH|NETRC|NET_RC)(?:$|_)"
)
NOT_SECRET_NAME = re.compile(
    r"(?:_FILE|_PATH|_DIR|_URL|_ID|_HOST|_USER|_USERNAME|_TYPE|_METHOD|_ENABLED|_MODE|"
    r"_LENGTH|_EXPIRY|_PROVIDER)$|^GPG_KEY$|PUBLIC_KEY"
)
