"""The shared error helpers in :mod:`nowcast.errors`."""

from __future__ import annotations

import pytest

from nowcast.errors import first_line


def test_first_line_quotes_the_first_line_of_a_long_message() -> None:
    assert first_line(RuntimeError("  size mismatch\n  at layer 3\n")) == "size mismatch"


@pytest.mark.parametrize("message", ["", " \n "])
def test_first_line_of_an_empty_message_is_the_type_name(message: str) -> None:
    assert first_line(RuntimeError(message)) == "RuntimeError"  # no IndexError
