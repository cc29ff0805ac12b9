package robot

import "strconv"

// LogLevel is the level of a line in the task log.
type LogLevel int

// Log levels, lowest first.
const (
	Trace LogLevel = iota
	Debug
	Info
	Audit
	Warn
	Error
	Fatal
)

// TaskRetVal is what a plugin, job or task handler returns.
type TaskRetVal int

// Task return values.
const (
	Normal TaskRetVal = iota
	Fail
	MechanismFail
	ConfigurationError
	PipelineAborted
	RobotStopping
	NotFound
	Success TaskRetVal = 7
)

// RetVal is what a Robot method returns.
type RetVal int

// Robot method return values; the numbers are the wire values of Burrow's Robot API.
const (
	Ok RetVal = iota
	UserNotFound
	ChannelNotFound
	AttributeNotFound
	FailedMessageSend
	FailedChannelJoin
	DatumNotFound
	DatumLockExpired
	DataFormatError
	BrainFailed
	InvalidDatumKey
	InvalidConfigPointer
	ConfigUnmarshalError
	NoConfigFound
	RetryPrompt
	ReplyNotMatched
	UseDefaultValue
	TimeoutExpired
	Interrupted
	MatcherNotFound
	NoUserEmail
	NoBotEmail
	MailError
	TaskNotFound
	MissingArguments
	InvalidStage
	InvalidTaskType
	CommandNotMatched
	TaskDisabled
	PrivilegeViolation
	IdentityProviderNotFound
	IdentityNotLinked
	IdentityReauthRequired
	IdentityRefreshFailed
	IdentityInvalidLinkRequest
	IdentityConfigError
	Failed RetVal = 63
)

// MessageFormat is how a connector renders an outgoing message.
type MessageFormat int

// Message formats.
const (
	Raw MessageFormat = iota
	Fixed
	Variable
	BasicMarkdown
)

// Protocol names a connector's protocol.
type Protocol int

// Connector protocols.
const (
	Slack Protocol = iota
	GoogleChat
	Rocket
	Terminal
	Test
	Null
	SSH
)

var logLevelNames = []string{"Trace", "Debug", "Info", "Audit", "Warn", "Error", "Fatal"}

var taskRetValNames = []string{
	"Normal", "Fail", "MechanismFail", "ConfigurationError", "PipelineAborted",
	"RobotStopping", "NotFound", "Success",
}

var retValNames = []string{
	"Ok", "UserNotFound", "ChannelNotFound", "AttributeNotFound", "FailedMessageSend",
	"FailedChannelJoin", "DatumNotFound", "DatumLockExpired", "DataFormatError", "BrainFailed",
	"InvalidDatumKey", "InvalidConfigPointer", "ConfigUnmarshalError", "NoConfigFound",
	"RetryPrompt", "ReplyNotMatched", "UseDefaultValue", "TimeoutExpired", "Interrupted",
	"MatcherNotFound", "NoUserEmail", "NoBotEmail", "MailError", "TaskNotFound",
	"MissingArguments", "InvalidStage", "InvalidTaskType", "CommandNotMatched", "TaskDisabled",
	"PrivilegeViolation", "IdentityProviderNotFound", "IdentityNotLinked",
	"IdentityReauthRequired", "IdentityRefreshFailed", "IdentityInvalidLinkRequest",
	"IdentityConfigError",
}

var messageFormatNames = []string{"Raw", "Fixed", "Variable", "BasicMarkdown"}

var protocolNames = []string{"Slack", "GoogleChat", "Rocket", "Terminal", "Test", "Null", "SSH"}

func named(names []string, i int, kind string) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return kind + "(" + strconv.Itoa(i) + ")"
}

func (l LogLevel) String() string { return named(logLevelNames, int(l), "LogLevel") }

func (t TaskRetVal) String() string { return named(taskRetValNames, int(t), "TaskRetVal") }

func (r RetVal) String() string {
	if r == Failed {
		return "Failed"
	}
	return named(retValNames, int(r), "RetVal")
}

func (f MessageFormat) String() string { return named(messageFormatNames, int(f), "MessageFormat") }

func (p Protocol) String() string { return named(protocolNames, int(p), "Protocol") }
