// Package robot is Burrow's implementation of the Go extension API of Gopherbot
// (github.com/lnxjedi/gopherbot/robot): the same exported names and signatures, so an
// extension written for Gopherbot builds unchanged. It uses only the standard library.
// The Robot an extension receives is served by package burrowchild, which speaks Burrow's
// child protocol (docs/protocol.md) to the robot.
package robot

import "bytes"

// AttrRet is an attribute and the RetVal of looking it up; %s prints the attribute.
type AttrRet struct {
	Attribute string
	RetVal
}

func (a AttrRet) String() string { return a.Attribute }

// ConnectorMessage describes the incoming message as far as a child knows it.
type ConnectorMessage struct {
	Protocol               string
	UserName, UserID       string
	ValidatedUser          bool
	ChannelName, ChannelID string
	ThreadID, MessageID    string
	ThreadedMessage        bool
	SelfMessage            bool
	DirectMessage          bool
	BotMessage             bool
	HiddenMessage          bool
	MessageText            string
	MessageObject, Client  interface{}
}

// Message is what GetMessage returns: who sent the message, where, and how replies render.
type Message struct {
	User            string
	ProtocolUser    string
	Channel         string
	ProtocolChannel string
	Protocol        Protocol
	Incoming        *ConnectorMessage
	Format          MessageFormat
}

// IdentityCredential is a usable credential of a linked identity.
type IdentityCredential struct {
	Type        string            `json:"type"`
	Value       string            `json:"value"`
	Scheme      string            `json:"scheme,omitempty"`
	HeaderName  string            `json:"header_name,omitempty"`
	HeaderValue string            `json:"header_value,omitempty"`
	ExpiresAt   string            `json:"expires_at,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// OAuth2IdentityLinkRequest is an OAuth2 token set to link to a user.
type OAuth2IdentityLinkRequest struct {
	Provider         string
	User             string
	AccessToken      string
	RefreshToken     string
	TokenType        string
	Scope            []string
	ExpiresIn        int
	ExpiresAt        string
	RefreshExpiresIn int
	RefreshExpiresAt string
	GrantType        string
	SubjectID        string
	SubjectLogin     string
	SubjectName      string
	SubjectEmail     string
}

// Logger is anything that can write to the task log.
type Logger interface {
	Log(l LogLevel, m string, v ...interface{}) bool
}

// Robot is the API an extension's handlers receive (Gopherbot's v1 Go API). Every method is
// one synchronous call to the robot; see docs/go.md in Burrow for what each one does here.
type Robot interface {
	CheckAdmin() bool
	Subscribe() bool
	Unsubscribe() bool
	Elevate(bool) bool
	GetBotAttribute(a string) *AttrRet
	GetUserAttribute(u, a string) *AttrRet
	GetSenderAttribute(a string) *AttrRet
	GetTaskConfig(cfgptr interface{}) RetVal
	GetHelpMetadata(query string) string
	GetMessage() *Message
	GetParameter(name string) string
	GetIdentityCredential(provider, user string) (credential *IdentityCredential, ret RetVal)
	LinkOAuth2Identity(link *OAuth2IdentityLinkRequest) RetVal
	UnlinkIdentity(provider, user string) RetVal
	Email(subject string, messageBody *bytes.Buffer, html ...bool) (ret RetVal)
	EmailUser(user, subject string, messageBody *bytes.Buffer, html ...bool) (ret RetVal)
	EmailAddress(address, subject string, messageBody *bytes.Buffer, html ...bool) (ret RetVal)
	Exclusive(tag string, queueTask bool) (success bool)
	Fixed() Robot
	MessageFormat(f MessageFormat) Robot
	Direct() Robot
	Threaded() Robot
	Log(l LogLevel, m string, v ...interface{}) bool
	SendChannelMessage(ch, msg string, v ...interface{}) RetVal
	SendChannelThreadMessage(ch, thr, msg string, v ...interface{}) RetVal
	SendUserChannelMessage(u, ch, msg string, v ...interface{}) RetVal
	SendProtocolUserChannelMessage(protocol, u, ch, msg string, v ...interface{}) RetVal
	SendUserChannelThreadMessage(u, ch, thr, msg string, v ...interface{}) RetVal
	SendUserMessage(u, msg string, v ...interface{}) RetVal
	Reply(msg string, v ...interface{}) RetVal
	ReplyThread(msg string, v ...interface{}) RetVal
	Say(msg string, v ...interface{}) RetVal
	SayThread(msg string, v ...interface{}) RetVal
	RandomInt(n int) int
	RandomString(s []string) string
	Pause(s float64)
	PromptForReply(regexID string, prompt string, v ...interface{}) (string, RetVal)
	PromptThreadForReply(regexID string, prompt string, v ...interface{}) (string, RetVal)
	PromptUserForReply(regexID string, user string, prompt string, v ...interface{}) (string, RetVal)
	PromptUserChannelForReply(regexID string, user, channel string, prompt string, v ...interface{}) (string, RetVal)
	PromptUserChannelThreadForReply(regexID string, user, channel, thread string, prompt string, v ...interface{}) (string, RetVal)
	CheckoutDatum(key string, datum interface{}, rw bool) (locktoken string, exists bool, ret RetVal)
	CheckinDatum(key, locktoken string)
	UpdateDatum(key, locktoken string, datum interface{}) (ret RetVal)
	DeleteDatum(key string) (ret RetVal)
	Remember(key, value string, shared bool)
	RememberThread(key, value string, shared bool)
	RememberContext(context, value string)
	RememberContextThread(context, value string)
	Recall(key string, shared bool) string
	DeleteMemory(key string, shared bool)
	SpawnJob(string, ...string) RetVal
	AddTask(string, ...string) RetVal
	FinalTask(string, ...string) RetVal
	FailTask(string, ...string) RetVal
	AddJob(string, ...string) RetVal
	AddCommand(string, string) RetVal
	FinalCommand(string, string) RetVal
	FailCommand(string, string) RetVal
	EncryptSecret(plaintext string) (string, RetVal)
	SetParameter(string, string) bool
	SetWorkingDirectory(string) bool
}
