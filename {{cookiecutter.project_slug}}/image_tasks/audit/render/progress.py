"""Progress on a terminal: layers done, bytes read, the rate; nothing anywhere else.

A multi-GB image takes a while, and a silent terminal looks hung.  On stderr, and only when
stderr is a terminal (never in CI logs or redirected output), one line is rewritten in place
at most ten times a second, and cleared at the end.
"""

from __future__ import annotations

import time

INTERVAL = 0.1


class Progress:
    def __init__(self, stream) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self.shown = 0.0
        self.done = 0  # layers finished
        self.total: int | None = None  # layers there are, once known
        self.read = 0  # bytes of finished layers
        self.current = 0  # bytes read of the layer being read here
        self.width = 0

    @classmethod
    def on_terminal(cls, stream) -> Progress | None:
        isatty = getattr(stream, "isatty", None)
        return cls(stream) if isatty is not None and isatty() else None

    def advance(self, offset: int) -> None:
        """The layer being read here has been read to ``offset``."""
        self.current = offset
        self._show()

    def layer_done(self, size: int) -> None:
        self.done += 1
        self.read += size
        self.current = 0
        self._show(force=self.done == self.total)

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if now - self.shown < INTERVAL and not force:
            return
        self.shown = now
        seen = self.read + self.current
        rate = seen / max(now - self.start, 1e-6) / 1e6
        of = f" of {self.total}" if self.total else ""
        line = f"audit: layer {min(self.done + 1, self.total or self.done + 1)}{of}, "
        line += f"{seen / 1e6:.0f} MB read, {rate:.0f} MB/s"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
