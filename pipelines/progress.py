"""A tqdm progress bar over the bytes a file replay has read, updated by a background thread (the flow's
workers never touch the terminal)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import TracebackType


class ProgressBar:
    """Polls ``done()`` every ``interval_s`` and shows it against ``total`` bytes on stderr."""

    def __init__(self, total: int, done: Callable[[], int], *, desc: str = "replay", interval_s: float = 0.25) -> None:
        self.total = total
        self.done = done
        self.desc = desc
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        from tqdm import tqdm

        with tqdm(total=self.total, unit="B", unit_scale=True, unit_divisor=1024, desc=self.desc,
                  file=sys.stderr, mininterval=self.interval_s, dynamic_ncols=True) as bar:
            while True:
                stopping = self._stop.wait(self.interval_s)
                bar.n = min(self.total, self.done())
                bar.refresh()
                if stopping:
                    return

    def __enter__(self) -> ProgressBar:
        self._thread = threading.Thread(target=self._run, name="replay-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
