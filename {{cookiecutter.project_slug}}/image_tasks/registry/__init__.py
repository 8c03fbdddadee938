"""The image registry: reading a pushed manifest back (`client`) with the login the engine
stored (`login`). Pushing is the engine's own command."""
