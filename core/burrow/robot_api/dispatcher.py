"""The Robot API a task's child reaches through `robot_call`, checked and served by the parent.

This module is the registry's entry: importing it declares every method group into the one
table of api.py, which `TaskApi.robot_call` serves and `served_methods` lists. The groups, one
module each (as the reference's method catalogue groups them):

- messaging.py: Say, Reply, the Send* family;
- attributes.py: GetBotAttribute, GetUserAttribute, GetSenderAttribute, CheckAdmin, GetMessage;
- config.py: GetTaskConfig, GetParameter, SetParameter, SetWorkingDirectory;
- pipeline.py: the AddTask and AddCommand families, SpawnJob, Exclusive, Elevate;
- prompts.py: the Prompt*ForReply family, Subscribe, Unsubscribe;
- memory.py: the *Datum methods (long-term), Remember*, Recall, DeleteMemory (short-term);
- identity.py: EncryptSecret, LinkOAuth2Identity, GetIdentityCredential, UnlinkIdentity;
- help.py: GetHelpMetadata;
- email.py: Email, EmailUser, EmailAddress;
- utilities.py: Log, RandomInt, RandomString, Pause.

Result keys follow the reference's catalogue and are listed in docs/protocol.md.
"""

from __future__ import annotations

from burrow.robot_api import (
    attributes,
    config,
    email,
    help,
    identity,
    memory,
    messaging,
    pipeline,
    prompts,
    utilities,
)
from burrow.robot_api.api import Result, TaskApi, robot_method, served_methods

__all__ = ["GROUPS", "Result", "TaskApi", "robot_method", "served_methods"]

# Every group of methods; importing them is what declares their methods.
GROUPS = (
    messaging,
    attributes,
    config,
    pipeline,
    prompts,
    memory,
    identity,
    help,
    email,
    utilities,
)
