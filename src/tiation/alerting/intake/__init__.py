"""Intake: each sender's wire format -> `AlertEvent`s, as pure functions of the decoded JSON body.

`parse(kind, data)` picks the parser for an intake kind. Every parser raises `IntakeError` (an `AlertError`)
whose `field` is the JSON path of the first problem, and whose message never holds a value from the request.
The pipeline behind the intake never sees a wire format.
"""

from __future__ import annotations

from collections.abc import Callable

from tiation.alerting.intake._wire import IntakeError
from tiation.alerting.intake.alertmanager import parse_alertmanager
from tiation.alerting.intake.generic import parse_generic
from tiation.alerting.intake.pagerduty import parse_pagerduty
from tiation.alerting.model import AlertEvent

Parser = Callable[[object], list[AlertEvent]]

PARSERS: dict[str, Parser] = {
    "alertmanager": parse_alertmanager,
    "pagerduty": parse_pagerduty,
    "generic": parse_generic,
}
"""Intake kind (the platform file's `alerting.intake` key) -> parser."""


def parse(kind: str, data: object) -> list[AlertEvent]:
    """The events in `data` (a decoded JSON body) sent to intake `kind`."""
    try:
        parser = PARSERS[kind]
    except KeyError:
        raise IntakeError(f"unknown intake {kind!r} (known: {', '.join(PARSERS)})") from None
    return parser(data)


__all__ = [
    "PARSERS",
    "IntakeError",
    "Parser",
    "parse",
    "parse_alertmanager",
    "parse_generic",
    "parse_pagerduty",
]
