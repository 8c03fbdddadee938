"""Finding secrets in bytes: `canaries` (known secrets and every encoding searched), `netrc`,
`search` (term positions: hyperscan when installed, else the standard library), `stream_search`
(the canary plane: every byte of a stream), `matching` (pattern rules over a buffer range,
canaries in short texts), `checks`, `credfiles`, `ownership` (package records), `redaction`."""
