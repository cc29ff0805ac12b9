"""Specification that docs/configuration.md documents every configuration key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from burrow.engine.config import schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
MODELS = [
    schema.RobotConfig,
    schema.BotInfo,
    schema.UserInfo,
    schema.TaskSpec,
    schema.Parameter,
    schema.ParameterSet,
    schema.ScheduledJob,
    schema.RobotTimeOuts,
    schema.PluginTimeOuts,
    schema.TaskTimeOuts,
    schema.PluginConfig,
    schema.JobConfig,
    schema.InputMatcher,
    schema.JobTrigger,
    schema.ChildLimitsConfig,
    schema.PrivSepConfig,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_key_is_documented(model: type[BaseModel]) -> None:
    text = DOCS.read_text(encoding="utf-8")

    missing = [f.alias for f in model.model_fields.values() if f"`{f.alias}`" not in text]

    assert missing == []
