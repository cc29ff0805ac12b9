"""What a chat user is told when an extension fails."""

from __future__ import annotations

from pathlib import Path

from burrow.engine.pipeline import for_users


def test_errors_shown_to_users_name_the_extension_file_not_the_robot_folders() -> None:
    path = Path("/srv/robots/acme/production/extensions/deploy/rep.lua")
    assert (
        for_users(f"extension_error: {path}:11: boom", path) == "extension_error: rep.lua:11: boom"
    )
    shortened = "...acme/production/extensions/deploy/rep.lua:11: resulting string too large"
    assert for_users(shortened, path) == "rep.lua:11: resulting string too large"
    # A tail that is not this file's stays as it is.
    assert for_users("...elsewhere/rep.lua:2: x", path) == "...elsewhere/rep.lua:2: x"


def test_a_huge_error_is_cut_for_the_user() -> None:
    path = Path("/robot/ext/big.lua")
    shown = for_users("extension_error: " + "x" * 16_000_000, path)
    assert len(shown) < 1100
    assert shown.endswith(f"… ({17 + 16_000_000 - 1000:,} more characters)")
