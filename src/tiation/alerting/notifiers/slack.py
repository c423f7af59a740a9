"""Slack incoming webhook: a fallback `text` (with the paged person's mention) and a coloured attachment of blocks.

Slack answers 200 `ok`; 400 `invalid_payload`, 403 `action_prohibited`, 404 `channel_not_found`/`no_service`
and 410 `channel_is_archived` cannot heal by retrying; 429 comes with Retry-After. A chat handle pings only
when it is a Slack member ID (`U…`/`W…`); other handles are written as plain `@name`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tiation.alerting.notifiers.base import Failed, Notification, Secrets, headline
from tiation.alerting.notifiers.http import HttpNotifier, Request, json_body
from tiation.config.notifiers import SlackNotifier as SlackSettings

COLOURS: Mapping[str, str] = {
    "emergency": "#b71c1c",
    "critical": "#e53935",
    "warning": "#fb8c00",
    "info": "#1e88e5",
}
RESOLVED_COLOUR = "#43a047"
ACKNOWLEDGED_COLOUR = "#757575"
OTHER_COLOUR = "#9e9e9e"
MAX_FIELDS = 10  # Slack's limit for a section's fields
MAX_TEXT = 2900  # a section's text may hold 3000 characters
_MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")


def escape(text: str) -> str:
    """Escape Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(chat: str | None) -> str | None:
    """How to address a chat handle: `<@U123ABC>` for a member ID (pings), else `@handle` as text."""
    if not chat:
        return None
    handle = chat.strip().lstrip("@")
    if _MEMBER_ID.match(handle):
        return f"<@{handle}>"
    return "@" + escape(handle)


def colour(notification: Notification) -> str:
    """The attachment's colour: green when resolved, grey when acknowledged, else by severity."""
    if notification.event == "resolve":
        return RESOLVED_COLOUR
    if notification.event == "acknowledge":
        return ACKNOWLEDGED_COLOUR
    return COLOURS.get(notification.severity, OTHER_COLOUR)


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payload(notification: Notification) -> dict[str, Any]:
    """The webhook's JSON document for `notification` (pure)."""
    line = headline(notification)
    who = mention(notification.recipient.chat) if notification.recipient else None
    text = f"{who} {escape(line)}" if who else escape(line)
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(f"*{escape(line)}*\n{escape(notification.summary)}")},
        }
    ]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{escape(k)}*\n{escape(v)}", 1900)}
        for k, v in sorted(notification.labels.items())[:MAX_FIELDS]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    notes = "\n".join(f"*{escape(k)}*: {escape(v)}" for k, v in sorted(notification.annotations.items()))
    if notes:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(notes)}})
    context = f"incident `{escape(notification.incident_id)}` · {notification.event}"
    if notification.url:
        context += f" · <{notification.url}|open the incident>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context)}]})
    return {
        "text": _cut(text),
        "attachments": [{"color": colour(notification), "fallback": _cut(text), "blocks": blocks}],
    }


class SlackNotifier(HttpNotifier[SlackSettings]):
    """Posts to a Slack incoming webhook."""

    kind = "slack"

    def request(self, notification: Notification, secrets: Secrets) -> Request | Failed:
        url = secrets.reveal(self.settings.webhook_url)
        return url, json_body(payload(notification)), {"Content-Type": "application/json"}
