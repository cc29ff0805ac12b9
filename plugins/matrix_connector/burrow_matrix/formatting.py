"""What the robot says, as Matrix `m.room.message` contents: formats, mentions, splitting.

- `Raw` and `Variable` are sent as plain `body`; `Fixed` also as `<pre><code>` in
  `formatted_body`; `BasicMarkdown` as CommonMark rendered to HTML (raw HTML in the text is
  escaped, never passed through).
- A long message is cut into parts of at most `limit` UTF-8 bytes of text, at a line break if
  there is one in the second half of the part, else at a space, else between characters, and
  each part is sent as its own event (the homeserver refuses events over 64 KiB). A part whose
  JSON content is still too big is halved again.
"""

from __future__ import annotations

import html
import json
from typing import Any

from burrow.constants import MessageFormat

MAX_CONTENT_BYTES = 60000  # the whole event must stay under 65536 bytes; leave room for the rest
_markdown: Any = None


def _render_markdown(text: str) -> str:
    global _markdown
    if _markdown is None:
        from markdown_it import MarkdownIt

        _markdown = MarkdownIt("commonmark", {"html": False, "breaks": True})
    return str(_markdown.render(text)).strip()


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` UTF-8 bytes, cut at lines, then spaces, then chars."""
    parts: list[str] = []
    rest = text
    while len(rest.encode()) > limit:
        # The longest prefix within the limit, in characters.
        head = rest.encode()[:limit].decode(errors="ignore") or rest[0]  # at least a character
        cut = head.rfind("\n")
        if cut < len(head) // 2:
            cut = head.rfind(" ")
        if cut < len(head) // 2:
            cut = len(head)
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:]
        if rest[:1] in ("\n", " "):
            rest = rest[1:]
    if rest or not parts:
        parts.append(rest)
    return parts


def mention_html(user_id: str, shown: str) -> str:
    return f'<a href="https://matrix.to/#/{html.escape(user_id)}">{html.escape(shown)}</a>'


def contents(
    text: str,
    fmt: MessageFormat,
    limit: int,
    mention: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The `m.room.message` contents to send for one message, in order.

    `mention` = (user id, shown name) puts "name: " before the first part, as a pill.
    """
    out: list[dict[str, Any]] = []
    pending = split_text(text, limit)
    first = True
    while pending:
        part = pending.pop(0)
        content = _content(part, fmt, mention if first else None)
        if len(json.dumps(content).encode()) > MAX_CONTENT_BYTES and len(part) > 1:
            half = max(1, len(part.encode()) // 2)
            pending[:0] = split_text(part, half)
            continue
        out.append(content)
        first = False
    return out


def _content(text: str, fmt: MessageFormat, mention: tuple[str, str] | None) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.text", "body": text}
    formatted: str | None = None
    if fmt == MessageFormat.Fixed:
        formatted = f"<pre><code>{html.escape(text)}</code></pre>"
    elif fmt == MessageFormat.BasicMarkdown:
        formatted = _render_markdown(text)
    if mention is not None:
        user_id, shown = mention
        content["body"] = f"{shown}: {text}"
        content["m.mentions"] = {"user_ids": [user_id]}
        pill = mention_html(user_id, shown)
        if formatted is None:
            formatted = html.escape(text).replace("\n", "<br>")
        if formatted.startswith("<p>"):
            formatted = f"<p>{pill}: {formatted[3:]}"
        else:
            formatted = f"{pill}: {formatted}"
    else:
        content["m.mentions"] = {}
    if formatted is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = formatted
    return content
