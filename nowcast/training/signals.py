"""Ctrl-C and SIGTERM during training: the run stops between steps, after saving its position.

A signal acted on mid-step could leave the weights or the optimizer half
updated, and ``last.pt`` saved then would not resume exactly. While a
:class:`SignalGuard` is active, SIGINT and SIGTERM only note that they came;
the loop looks at :attr:`SignalGuard.received` after each step and each
validation batch, saves ``last.pt`` and calls :meth:`SignalGuard.deliver`,
which hands the signal to the handler that was in place before: Ctrl-C
raises ``KeyboardInterrupt``, the CLI's SIGTERM handler raises
:class:`~nowcast.errors.Terminated`, and a default SIGTERM ends the process.
A signal that was ignored stays ignored. Only the main thread can set
handlers; in any other thread the guard does nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalGuard:
    """Holds SIGINT and SIGTERM back until the run reaches a point where it can stop.

    Attributes:
        received: The signal number that came while the guard was active, or ``None``.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, _Handler] = {}

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                handler = signal.getsignal(signum)
                if handler not in (signal.SIG_IGN, None):  # None: set outside Python, keep it
                    self._previous[signum] = handler
                    signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            self.deliver()  # a signal after the last check still stops the program
        else:
            self._restore()

    def deliver(self) -> None:
        """Put the previous handlers back and give them the signal that came, if one did."""
        self._restore()
        signum, self.received = self.received, None
        if signum is not None:
            signal.raise_signal(signum)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
