"""The base of every area's repository: its tables, bound to one connection inside one transaction."""

from __future__ import annotations

from sqlalchemy import Connection

from tiation.clock import Clock


class Repository:
    """One area's queries on the connection of a unit of work (`StateStore.write()` / `read()`).

    A repository never begins or commits: the unit of work does, so what several areas write in one block
    commits together or not at all. Times come from `clock`.
    """

    def __init__(self, conn: Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
