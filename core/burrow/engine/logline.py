"""Log text that came from an extension, made safe for a line-oriented log.

An extension controls much of what the robot logs: its `Log` calls, its `$/log` notifications,
its stderr, and the messages of errors it raises. Written raw, a newline in that text starts a
line that reads like the robot's own (`2030-01-01T00:00:00 AUDIT [1] ...`), a carriage return
or an ESC sequence rewrites what a terminal shows, and one 10 MiB message is one 10 MiB line.
`log_text` turns any text into exactly one bounded line: control characters, Unicode line and
paragraph separators, bidirectional overrides and lone surrogates become visible escapes
(`\\n`, `\\r`, `\\x1b`, `\\u2028`, ...), and the text is cut at `LINE_LIMIT` UTF-8 bytes with
a marker that says how many bytes were cut. Backslashes are left as they are: the escapes are
for reading, not for decoding back.
"""

from __future__ import annotations

import re

LINE_LIMIT = 8 * 1024  # UTF-8 bytes of one logged message, escapes included

# Everything a reader could take for a line break or a terminal command: C0 and C1 controls
# except tab (str.splitlines also breaks on \x0b, \x0c, \x1c-\x1e and \x85), DEL, the Unicode
# line and paragraph separators, the bidirectional controls that reorder what is displayed,
# the byte-order mark, and lone surrogates (which could not even be written as UTF-8).
_UNSAFE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ufeff\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape(text: str) -> str:
    return _UNSAFE.sub(_escape_one, text)


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def log_text(text: str, limit: int = LINE_LIMIT) -> str:
    """`text` as one log line: control characters escaped, at most `limit` UTF-8 bytes + marker."""
    head = text[:limit]  # a character is at least one byte: never fewer than `limit` bytes
    safe = _escape(head)
    if len(head) == len(text) and _size(safe) <= limit:
        return safe
    # The longest prefix whose escaped form fits; escapes make the size grow with the length.
    low, high = 0, len(head)
    while low < high:
        middle = (low + high + 1) // 2
        if _size(_escape(head[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    cut = _size(text) - _size(head[:low])
    return f"{_escape(head[:low])}…[{cut} bytes cut]"
