"""Ending a process whose main thread is stuck in native code when SIGINT or SIGTERM arrives.

A Python signal handler runs only when the main thread executes Python bytecode. While a cluster process joins
its peers, Bytewax (Timely) connects and accepts in Rust on the main thread with no signal check, for as long as
a peer is missing: Ctrl-C and a service manager's SIGTERM did nothing. CPython's C-level handler still runs at
once, and with :func:`signal.set_wakeup_fd` it writes the signal number to a file descriptor. The watchdog reads
that descriptor on a daemon thread; the Python handler reports each run with :meth:`SignalWatchdog.handled`. When
a SIGINT or SIGTERM is not handled within ``grace_s`` while the watchdog is :meth:`~SignalWatchdog.armed` (the
caller says what the main thread is waiting for), the process logs one line and exits at once with
``128 + signal number`` (130 for SIGINT, 143 for SIGTERM: the shell's code for a death by that signal; the run
did not stop cleanly, so a service manager sees a failure, not a clean stop). Unarmed, a late handler is left
alone: a normal run keeps its own stopping (first signal: clean stop; second: abort).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

log = logging.getLogger(__name__)

WATCHED = frozenset({int(signal.SIGINT), int(signal.SIGTERM)})
_QUIT = 0  # no signal has number 0: the restorer's byte that ends the thread


class SignalWatchdog:
    """Exit the process when SIGINT/SIGTERM goes unhandled for ``grace_s`` while armed.

    ``exit``: called with the exit code (default :func:`os._exit`; tests pass a recorder).
    """

    def __init__(self, *, grace_s: float = 5.0, exit: Callable[[int], object] = os._exit) -> None:
        self.grace_s = grace_s
        self._exit = exit
        self._handled = 0
        self._last_signum: int | None = None
        self._waiting_for: str | None = None
        self._lock = threading.Condition()
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._previous_fd = -1

    @property
    def last_signal(self) -> int | None:
        """The number of the last signal the Python handler reported, if any."""
        return self._last_signum

    def start(self) -> Callable[[], None]:
        """Route the C-level signal handler's wakeup byte to the watchdog thread (main thread only). Returns the
        restorer: it puts back the previous wakeup fd and ends the thread."""
        reader, writer = socket.socketpair()
        reader.setblocking(True)
        writer.setblocking(False)
        self._reader, self._writer = reader, writer
        self._previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="vitals-signal-watchdog", daemon=True)
        self._thread.start()
        return self.stop

    def stop(self) -> None:
        if self._writer is None:
            return
        signal.set_wakeup_fd(self._previous_fd)
        with suppress(OSError):  # a buffer full of signal bytes: the thread is behind, closing ends its read anyway
            self._writer.send(bytes([_QUIT]))
        if self._thread is not None:
            self._thread.join(timeout=self.grace_s + 1.0)
        self._writer.close()
        if self._reader is not None:
            self._reader.close()
        self._reader = self._writer = self._thread = None

    def handled(self, signum: int) -> None:
        """Called by the Python signal handler: the main thread runs Python code and answers signals."""
        with self._lock:
            self._handled += 1
            self._last_signum = signum
            self._lock.notify_all()

    @contextmanager
    def armed(self, waiting_for: str) -> Iterator[None]:
        """While inside: an unhandled SIGINT/SIGTERM ends the process, saying the main thread is ``waiting_for``
        (e.g. "its cluster peers ...")."""
        with self._lock:
            self._waiting_for = waiting_for
        try:
            yield
        finally:
            with self._lock:
                self._waiting_for = None

    def _watch(self) -> None:
        reader = self._reader
        assert reader is not None
        seen = self._handled
        while True:
            try:
                data = reader.recv(256)
            except OSError:
                return
            if not data or _QUIT in data:
                return
            signals = [s for s in data if s in WATCHED]
            if not signals:
                continue
            deadline = time.monotonic() + self.grace_s
            with self._lock:
                while self._handled == seen and time.monotonic() < deadline:
                    self._lock.wait(timeout=max(0.0, deadline - time.monotonic()))
                answered = self._handled != seen
                seen = self._handled
                waiting_for = self._waiting_for
            if not answered and waiting_for is not None:
                self._give_up(signals[-1], waiting_for)

    def _give_up(self, signum: int, waiting_for: str) -> None:
        name = signal.Signals(signum).name
        code = 128 + signum
        log.error("%s: still waiting for %s; the flow never started, so there is nothing to stop cleanly: exiting "
                  "at once with code %d", name, waiting_for, code)
        for handler in logging.getLogger().handlers:
            with suppress(Exception):  # exiting anyway: a broken handler must not keep the process alive
                handler.flush()
        self._exit(code)
