"""Specification of Gopherbot's merge of a robot's plugin file over an extension's default."""

from __future__ import annotations

from typing import Any

import pytest

from burrow.engine.config import merge_config
from burrow.engine.config.merge import merge_with_origins


@pytest.mark.parametrize(
    ("base", "overlay", "expected"),
    [
        pytest.param({"A": 1}, {"A": 2}, {"A": 2}, id="scalar-replaces"),
        pytest.param({"A": 1}, {"B": 2}, {"A": 1, "B": 2}, id="new-key-is-added"),
        pytest.param({"A": [1, 2]}, {"A": [3]}, {"A": [3]}, id="list-replaces"),
        pytest.param(
            {"Config": {"Openings": ["x"], "Url": "a"}},
            {"Config": {"Url": "b"}},
            {"Config": {"Openings": ["x"], "Url": "b"}},
            id="maps-merge-recursively",
        ),
        pytest.param(
            {"A": {"B": {"C": 1, "D": 2}}},
            {"A": {"B": {"D": 3}}},
            {"A": {"B": {"C": 1, "D": 3}}},
            id="maps-merge-at-any-depth",
        ),
        pytest.param({"A": {"B": 1}}, {"A": "flat"}, {"A": "flat"}, id="mismatch-overlay-wins"),
        pytest.param({"A": "flat"}, {"A": [1]}, {"A": [1]}, id="mismatch-list-over-scalar"),
        pytest.param({"A": {"B": 1}}, {"A": None}, {"A": {"B": 1}}, id="empty-overlay-keeps-base"),
        pytest.param({}, {"A": None}, {"A": None}, id="empty-overlay-on-new-key-is-kept"),
    ],
)
def test_merge_rules(base: dict[str, Any], overlay: dict[str, Any], expected: Any) -> None:
    assert merge_config(base, overlay) == expected


def test_append_key_appends_to_the_default_list() -> None:
    base = {"Commands": [{"Command": "a"}, {"Command": "b"}]}
    overlay = {"AppendCommands": [{"Command": "c"}]}

    merged = merge_config(base, overlay)

    assert merged == {"Commands": [{"Command": "a"}, {"Command": "b"}, {"Command": "c"}]}


def test_append_key_appends_after_the_key_itself_was_replaced() -> None:
    base = {"Users": ["alice", "bob"]}
    # The append comes first in the file, but still applies after Users was replaced.
    overlay = {"AppendUsers": ["carol"], "Users": ["dave"]}

    assert merge_config(base, overlay) == {"Users": ["dave", "carol"]}


def test_append_key_creates_the_list_when_the_default_has_none() -> None:
    assert merge_config({}, {"AppendUsers": ["carol"]}) == {"Users": ["carol"]}


def test_append_key_works_inside_nested_maps() -> None:
    base = {"Config": {"Openings": ["hi"]}}
    overlay = {"Config": {"AppendOpenings": ["hello"]}}

    assert merge_config(base, overlay) == {"Config": {"Openings": ["hi", "hello"]}}


@pytest.mark.parametrize(
    "overlay",
    [
        pytest.param({"Appendix": ["x"]}, id="lower-case-after-Append"),
        pytest.param({"AppendUrl": "http://x"}, id="not-a-list"),
        pytest.param({"Append": ["x"]}, id="nothing-after-Append"),
    ],
)
def test_keys_that_only_look_like_appends_are_ordinary_keys(overlay: dict[str, Any]) -> None:
    assert merge_config({}, overlay) == overlay


def test_merge_does_not_modify_or_share_its_inputs() -> None:
    base = {"Config": {"List": [1]}}
    overlay = {"Config": {"Other": {"X": 1}}}

    merged = merge_config(base, overlay)
    merged["Config"]["List"].append(2)
    merged["Config"]["Other"]["X"] = 9

    assert base == {"Config": {"List": [1]}}
    assert overlay == {"Config": {"Other": {"X": 1}}}


def test_origins_map_appended_items_back_to_the_append_key() -> None:
    _, origins = merge_with_origins({"Commands": ["a", "b"]}, {"AppendCommands": ["c"]})

    assert origins == [(("Commands", 2), ("AppendCommands", 0))]


def test_origins_record_only_what_the_overlay_supplied() -> None:
    _, origins = merge_with_origins({"A": 1, "M": {"X": 1, "Y": 2}}, {"M": {"Y": 3}})

    assert origins == [(("M", "Y"), ("M", "Y"))]
