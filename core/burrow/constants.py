"""The enumerations of Gopherbot's v1 extension API, with the same names and values."""

from __future__ import annotations

import enum


class TaskRetVal(enum.IntEnum):
    """What an extension's execution returns; only Success (7) authorises or elevates."""

    Normal = 0
    Fail = 1
    MechanismFail = 2
    ConfigurationError = 3
    PipelineAborted = 4
    RobotStopping = 5
    NotFound = 6
    Success = 7


class RetVal(enum.IntEnum):
    """What a Robot API method returns."""

    Ok = 0
    UserNotFound = 1
    ChannelNotFound = 2
    AttributeNotFound = 3
    FailedMessageSend = 4
    FailedChannelJoin = 5
    DatumNotFound = 6
    DatumLockExpired = 7
    DataFormatError = 8
    BrainFailed = 9
    InvalidDatumKey = 10
    InvalidConfigPointer = 11
    ConfigUnmarshalError = 12
    NoConfigFound = 13
    RetryPrompt = 14
    ReplyNotMatched = 15
    UseDefaultValue = 16
    TimeoutExpired = 17
    Interrupted = 18
    MatcherNotFound = 19
    NoUserEmail = 20
    NoBotEmail = 21
    MailError = 22
    TaskNotFound = 23
    MissingArguments = 24
    InvalidStage = 25
    InvalidTaskType = 26
    CommandNotMatched = 27
    TaskDisabled = 28
    PrivilegeViolation = 29
    IdentityProviderNotFound = 30
    IdentityNotLinked = 31
    IdentityReauthRequired = 32
    IdentityRefreshFailed = 33
    IdentityInvalidLinkRequest = 34
    IdentityConfigError = 35
    Failed = 63


class LogLevel(enum.IntEnum):
    """Log levels of `Log` and `$/log`."""

    Trace = 0
    Debug = 1
    Info = 2
    Audit = 3
    Warn = 4
    Error = 5
    Fatal = 6


class MessageFormat(enum.IntEnum):
    """Message formats of the send methods."""

    Raw = 0
    Fixed = 1
    Variable = 2
    BasicMarkdown = 3
