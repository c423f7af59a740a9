"""A separate process for the lease tests (run as a script, not collected by pytest).

lease_worker.py race URL   - for each stdin line `go SERVICE`: try to take race/SERVICE, print won|lost
lease_worker.py hold URL SERVICE TTL - take hold/SERVICE for TTL seconds, print `acquired`, then wait forever
lease_worker.py open URL   - print `ready`; on a stdin line open (so migrate) the store, print its URL
"""

from __future__ import annotations

import os
import sys
import time

from tiation.clock import SystemClock
from tiation.errors import LockHeldError
from tiation.state import StateStore


def main(argv: list[str]) -> int:
    mode, url = argv[0], argv[1]
    if mode == "open":  # import everything first, then open when told to: the opens overlap
        import tiation.state.migrate  # noqa: F401

        print("ready", flush=True)
        sys.stdin.readline()
    with StateStore.open(url, clock=SystemClock()) as store:
        owner = f"worker pid {os.getpid()}"
        if mode == "open":
            print(store.url_display, flush=True)
        elif mode == "hold":
            with store.write() as uow:
                uow.leases.acquire("hold", argv[2], owner=owner, reason="hold", ttl=float(argv[3]))
            print("acquired", flush=True)
            while True:
                time.sleep(60)
        elif mode == "race":
            print("ready", flush=True)
            for line in sys.stdin:
                cmd, _, service = line.strip().partition(" ")
                if cmd != "go":
                    break
                try:
                    with store.write() as uow:
                        uow.leases.acquire("race", service, owner=owner, reason="race", ttl=30)
                except LockHeldError:
                    print("lost", flush=True)
                else:
                    print("won", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
