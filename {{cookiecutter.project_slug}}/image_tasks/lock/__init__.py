"""The lock: what the base image already has (`base`), resolving requirements.in against the
private index into requirements.txt with uv (`resolve`), and the lock file itself and whether it
still matches requirements.in and the base image (`lockfile`)."""
