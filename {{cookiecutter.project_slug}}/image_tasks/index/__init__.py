"""The private package index: the probe that asks it for every requirement (`probe`, which is
also the one HTTP door that carries a credential, `opener`, and defines `is_loopback`: standard
library only and self-contained, because the Dockerfile mounts that one file into the build),
what an index URL may be (`url`), the cloud indexes of short-lived tokens (`cloud`), and a local
password-protected index to try the loop with (`local`)."""
