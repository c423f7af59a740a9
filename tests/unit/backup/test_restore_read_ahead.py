"""read_ahead: the restore's bounded look-ahead between decrypt/decompress and the loader."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tiation.backup.restore import read_ahead
from tiation.errors import IntegrityError


def test_keeps_order_and_ends() -> None:
    assert list(read_ahead(iter([b"a", b"b", b"c"]))) == [b"a", b"b", b"c"]
    assert list(read_ahead(iter([]))) == []


def test_an_error_in_the_stream_reaches_the_consumer_after_the_good_chunks() -> None:
    def broken() -> Iterator[bytes]:
        yield b"ok"
        raise IntegrityError("backup x failed at restore: sha256 differs")

    got = []
    with pytest.raises(IntegrityError, match="sha256 differs"):
        for chunk in read_ahead(broken()):
            got.append(chunk)
    assert got == [b"ok"]


def test_stays_bounded_and_stops_when_the_consumer_stops() -> None:
    produced = 0
    finished = threading.Event()

    def endless() -> Iterator[bytes]:
        nonlocal produced
        try:
            while True:
                produced += 1
                yield b"x"
        finally:
            finished.set()

    reader = read_ahead(endless(), depth=4)
    assert next(reader) == b"x"
    threading.Event().wait(0.2)  # give the worker time to run ahead as far as it may
    assert produced <= 4 + 2  # the queue, plus the item in hand and the one being put
    reader.close()
    assert finished.wait(5), "the worker did not stop after the consumer closed"
