"""What the robot's messages become as Matrix events: formats, mentions, splitting."""

from __future__ import annotations

import json

from burrow_matrix.formatting import MAX_CONTENT_BYTES, contents, split_text
from hypothesis import given, settings
from hypothesis import strategies as st

from burrow.constants import MessageFormat


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab \n\u00e9\u6f22\U0001f600"), max_size=400),
    st.integers(8, 64),
)
def test_split_parts_fit_the_limit_and_lose_only_the_separator_they_were_cut_at(
    text: str, limit: int
) -> None:
    parts = split_text(text, limit)
    assert all(len(p.encode()) <= limit for p in parts)
    # Joined back with what was cut (a line break, a space or nothing), nothing is lost.
    squeezed = "".join(text.split())
    assert "".join("".join(parts).split()) == squeezed


def test_cut_at_line_breaks_then_spaces_then_characters() -> None:
    assert split_text("aaaa\nbbbb\ncccc", 10) == ["aaaa\nbbbb", "cccc"]
    assert split_text("aaaa bbbb cccc", 10) == ["aaaa bbbb", "cccc"]
    assert split_text("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]
    assert split_text("\u00e9" * 6, 5) == ["\u00e9\u00e9", "\u00e9\u00e9", "\u00e9\u00e9"]
    assert split_text("", 10) == [""]


def test_formats() -> None:
    [raw] = contents("a <b> & c", MessageFormat.Raw, 1000)
    assert raw == {"msgtype": "m.text", "body": "a <b> & c", "m.mentions": {}}
    [fixed] = contents("x < y", MessageFormat.Fixed, 1000)
    assert fixed["formatted_body"] == "<pre><code>x &lt; y</code></pre>"
    [md] = contents("**hi** <script>", MessageFormat.BasicMarkdown, 1000)
    assert md["format"] == "org.matrix.custom.html"
    assert md["formatted_body"] == "<p><strong>hi</strong> &lt;script&gt;</p>"  # no raw HTML


def test_a_mention_starts_only_the_first_part() -> None:
    parts = contents("one two three", MessageFormat.Raw, 8, ("@al:hs", "Al <x>"))
    assert [p["body"] for p in parts] == ["Al <x>: one two", "three"]
    assert parts[0]["m.mentions"] == {"user_ids": ["@al:hs"]}
    assert parts[0]["formatted_body"] == (
        '<a href="https://matrix.to/#/@al:hs">Al &lt;x&gt;</a>: one two'
    )
    assert parts[1]["m.mentions"] == {}


def test_every_event_stays_under_the_homeservers_size_limit() -> None:
    # Characters that JSON escapes six-fold: the byte limit of the text is not enough alone.
    text = "\u0001" * 30000
    for content in contents(text, MessageFormat.Fixed, 30000):
        assert len(json.dumps(content).encode()) <= MAX_CONTENT_BYTES
