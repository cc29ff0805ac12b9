package burrowchild

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"

	"github.com/lnxjedi/gopherbot/robot"
)

// bot_ is the robot.Robot an extension receives; Direct, Threaded, Fixed and MessageFormat
// return copies with options that go with each call.
type bot_ struct {
	s         *session
	fields    map[string]interface{}
	direct    bool
	threaded  bool
	format    robot.MessageFormat
	hasFormat bool
}

var _ robot.Robot = (*bot_)(nil)

func (r *bot_) options() map[string]interface{} {
	o := map[string]interface{}{}
	if r.direct {
		o["direct"] = true
	}
	if r.threaded {
		o["threaded"] = true
	}
	if r.hasFormat {
		o["format"] = int64(r.format)
	}
	return o
}

// do makes one robot call; a failed call answers an empty map (zero values), as upstream's
// clients do, and says why in the task log.
func (r *bot_) do(method string, args ...interface{}) map[string]interface{} {
	res, err := r.s.call(method, args, r.options())
	if err != nil {
		if _, ok := err.(*rpcError); ok {
			r.s.log(logError, fmt.Sprintf("robot call %s failed: %v", method, err))
			return map[string]interface{}{}
		}
		panic(closedPanic{}) // the stream is broken: the robot is gone
	}
	if res == nil {
		return map[string]interface{}{}
	}
	return res
}

func retOf(m map[string]interface{}) robot.RetVal {
	if v, ok := m["ret_val"].(int64); ok {
		return robot.RetVal(v)
	}
	return robot.Failed
}

func boolOf(m map[string]interface{}, key string) bool { b, _ := m[key].(bool); return b }

func strOf(m map[string]interface{}, key string) string { s, _ := m[key].(string); return s }

func formatted(msg string, v []interface{}) string {
	if len(v) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, v...)
}

func strArgs(first []interface{}, rest []string) []interface{} {
	for _, s := range rest {
		first = append(first, s)
	}
	return first
}

// toWire turns any JSON-marshalable value into maps, lists and scalars (datums are JSON
// documents upstream: the same field names and tags apply).
func toWire(v interface{}) (interface{}, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out interface{}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return numbers(out), nil
}

func numbers(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []interface{}:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]interface{}:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
}

// fromWire fills the value `ptr` points to from a decoded wire value.
func fromWire(value interface{}, ptr interface{}) error {
	data, err := json.Marshal(jsonable(value))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, ptr)
}

func jsonable(v interface{}) interface{} {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case []interface{}:
		for i := range x {
			x[i] = jsonable(x[i])
		}
	case map[string]interface{}:
		for k := range x {
			x[k] = jsonable(x[k])
		}
	}
	return v
}

func isPointer(v interface{}) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Ptr && !rv.IsNil()
}

func (r *bot_) CheckAdmin() bool  { return boolOf(r.do("CheckAdmin"), "bool") }
func (r *bot_) Subscribe() bool   { return boolOf(r.do("Subscribe"), "bool") }
func (r *bot_) Unsubscribe() bool { return boolOf(r.do("Unsubscribe"), "bool") }
func (r *bot_) Elevate(immediate bool) bool {
	return boolOf(r.do("Elevate", immediate), "bool")
}

func (r *bot_) attr(method string, args ...interface{}) *robot.AttrRet {
	m := r.do(method, args...)
	return &robot.AttrRet{Attribute: strOf(m, "attribute"), RetVal: retOf(m)}
}

func (r *bot_) GetBotAttribute(a string) *robot.AttrRet { return r.attr("GetBotAttribute", a) }
func (r *bot_) GetUserAttribute(u, a string) *robot.AttrRet {
	return r.attr("GetUserAttribute", u, a)
}
func (r *bot_) GetSenderAttribute(a string) *robot.AttrRet {
	return r.attr("GetSenderAttribute", a)
}

func (r *bot_) GetTaskConfig(cfgptr interface{}) robot.RetVal {
	if !isPointer(cfgptr) {
		return robot.InvalidConfigPointer
	}
	m := r.do("GetTaskConfig")
	ret := retOf(m)
	if ret != robot.Ok {
		return ret
	}
	if err := fromWire(m["config"], cfgptr); err != nil {
		r.Log(robot.Error, "GetTaskConfig: %v", err)
		return robot.ConfigUnmarshalError
	}
	return robot.Ok
}

func (r *bot_) GetHelpMetadata(query string) string {
	return strOf(r.do("GetHelpMetadata", query), "string")
}

var protocols = map[string]robot.Protocol{
	"slack": robot.Slack, "googlechat": robot.GoogleChat, "rocket": robot.Rocket,
	"terminal": robot.Terminal, "test": robot.Test, "null": robot.Null, "ssh": robot.SSH,
}

func (r *bot_) GetMessage() *robot.Message {
	m, _ := r.do("GetMessage")["message"].(map[string]interface{})
	protocol := strOf(m, "protocol")
	msg := &robot.Message{
		User:            strOf(m, "user"),
		ProtocolUser:    strOf(m, "protocol_user"),
		Channel:         strOf(m, "channel"),
		ProtocolChannel: strOf(m, "protocol_channel"),
		Protocol:        protocols[strings.ToLower(protocol)],
	}
	if f, ok := m["format"].(int64); ok {
		msg.Format = robot.MessageFormat(f)
	}
	f := r.fields
	threaded, _ := f["threaded_message"].(bool)
	msg.Incoming = &robot.ConnectorMessage{
		Protocol: protocol, UserName: strOf(f, "user"), UserID: strOf(f, "user_id"),
		ChannelName: strOf(f, "channel"), ChannelID: strOf(f, "channel_id"),
		ThreadID: strOf(f, "thread_id"), MessageID: strOf(f, "message_id"),
		ThreadedMessage: threaded, DirectMessage: strOf(f, "channel") == "",
	}
	return msg
}

func (r *bot_) GetParameter(name string) string {
	return strOf(r.do("GetParameter", name), "string")
}

func (r *bot_) GetIdentityCredential(provider, user string) (*robot.IdentityCredential, robot.RetVal) {
	m := r.do("GetIdentityCredential", provider, user)
	ret := retOf(m)
	if m["credential"] == nil {
		return nil, ret
	}
	credential := &robot.IdentityCredential{}
	if err := fromWire(m["credential"], credential); err != nil {
		return nil, robot.Failed
	}
	return credential, ret
}

func (r *bot_) LinkOAuth2Identity(link *robot.OAuth2IdentityLinkRequest) robot.RetVal {
	if link == nil {
		return robot.IdentityInvalidLinkRequest
	}
	wire, err := toWire(link)
	if err != nil {
		return robot.IdentityInvalidLinkRequest
	}
	return retOf(r.do("LinkOAuth2Identity", wire))
}

func (r *bot_) UnlinkIdentity(provider, user string) robot.RetVal {
	return retOf(r.do("UnlinkIdentity", provider, user))
}

func body(b *bytes.Buffer) string {
	if b == nil {
		return ""
	}
	return b.String()
}

func isHTML(html []bool) bool { return len(html) > 0 && html[0] }

func (r *bot_) Email(subject string, messageBody *bytes.Buffer, html ...bool) robot.RetVal {
	return retOf(r.do("Email", subject, body(messageBody), isHTML(html)))
}

func (r *bot_) EmailUser(user, subject string, messageBody *bytes.Buffer, html ...bool) robot.RetVal {
	return retOf(r.do("EmailUser", user, subject, body(messageBody), isHTML(html)))
}

func (r *bot_) EmailAddress(address, subject string, messageBody *bytes.Buffer, html ...bool) robot.RetVal {
	return retOf(r.do("EmailAddress", address, subject, body(messageBody), isHTML(html)))
}

func (r *bot_) Exclusive(tag string, queueTask bool) bool {
	return boolOf(r.do("Exclusive", tag, queueTask), "bool")
}

func (r *bot_) derive() *bot_ { c := *r; return &c }

func (r *bot_) Fixed() robot.Robot { return r.MessageFormat(robot.Fixed) }

func (r *bot_) MessageFormat(f robot.MessageFormat) robot.Robot {
	c := r.derive()
	c.format, c.hasFormat = f, true
	return c
}

func (r *bot_) Direct() robot.Robot { c := r.derive(); c.direct = true; return c }

func (r *bot_) Threaded() robot.Robot { c := r.derive(); c.threaded = true; return c }

func (r *bot_) Log(l robot.LogLevel, m string, v ...interface{}) bool {
	return boolOf(r.do("Log", int64(l), formatted(m, v)), "bool")
}

func (r *bot_) send(method string, args ...interface{}) robot.RetVal {
	return retOf(r.do(method, args...))
}

func (r *bot_) SendChannelMessage(ch, msg string, v ...interface{}) robot.RetVal {
	return r.send("SendChannelMessage", ch, formatted(msg, v))
}

func (r *bot_) SendChannelThreadMessage(ch, thr, msg string, v ...interface{}) robot.RetVal {
	return r.send("SendChannelThreadMessage", ch, thr, formatted(msg, v))
}

func (r *bot_) SendUserChannelMessage(u, ch, msg string, v ...interface{}) robot.RetVal {
	return r.send("SendUserChannelMessage", u, ch, formatted(msg, v))
}

func (r *bot_) SendProtocolUserChannelMessage(protocol, u, ch, msg string, v ...interface{}) robot.RetVal {
	return r.send("SendProtocolUserChannelMessage", protocol, u, ch, formatted(msg, v))
}

func (r *bot_) SendUserChannelThreadMessage(u, ch, thr, msg string, v ...interface{}) robot.RetVal {
	return r.send("SendUserChannelThreadMessage", u, ch, thr, formatted(msg, v))
}

func (r *bot_) SendUserMessage(u, msg string, v ...interface{}) robot.RetVal {
	return r.send("SendUserMessage", u, formatted(msg, v))
}

func (r *bot_) Reply(msg string, v ...interface{}) robot.RetVal {
	return r.send("Reply", formatted(msg, v))
}

func (r *bot_) ReplyThread(msg string, v ...interface{}) robot.RetVal {
	return r.send("ReplyThread", formatted(msg, v))
}

func (r *bot_) Say(msg string, v ...interface{}) robot.RetVal {
	return r.send("Say", formatted(msg, v))
}

func (r *bot_) SayThread(msg string, v ...interface{}) robot.RetVal {
	return r.send("SayThread", formatted(msg, v))
}

// RandomInt and RandomString are computed here, as upstream computes them in the robot.
func (r *bot_) RandomInt(n int) int {
	if n <= 0 {
		return 0
	}
	return rand.Intn(n)
}

func (r *bot_) RandomString(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[rand.Intn(len(s))]
}

func (r *bot_) Pause(s float64) { r.do("Pause", s) }

func (r *bot_) prompt(method string, args ...interface{}) (string, robot.RetVal) {
	m := r.do(method, args...)
	return strOf(m, "reply"), retOf(m)
}

func (r *bot_) PromptForReply(regexID string, prompt string, v ...interface{}) (string, robot.RetVal) {
	return r.prompt("PromptForReply", regexID, formatted(prompt, v))
}

func (r *bot_) PromptThreadForReply(regexID string, prompt string, v ...interface{}) (string, robot.RetVal) {
	return r.prompt("PromptThreadForReply", regexID, formatted(prompt, v))
}

func (r *bot_) PromptUserForReply(regexID string, user string, prompt string, v ...interface{}) (string, robot.RetVal) {
	return r.prompt("PromptUserForReply", regexID, user, formatted(prompt, v))
}

func (r *bot_) PromptUserChannelForReply(regexID string, user, channel string, prompt string, v ...interface{}) (string, robot.RetVal) {
	return r.prompt("PromptUserChannelForReply", regexID, user, channel, formatted(prompt, v))
}

func (r *bot_) PromptUserChannelThreadForReply(regexID string, user, channel, thread string, prompt string, v ...interface{}) (string, robot.RetVal) {
	return r.prompt("PromptUserChannelThreadForReply", regexID, user, channel, thread, formatted(prompt, v))
}

func (r *bot_) CheckoutDatum(key string, datum interface{}, rw bool) (string, bool, robot.RetVal) {
	if !isPointer(datum) {
		return "", false, robot.DataFormatError
	}
	m := r.do("CheckoutDatum", key, rw)
	ret := retOf(m)
	exists := boolOf(m, "exists")
	token := strOf(m, "lock_token")
	if ret == robot.Ok && exists && m["datum"] != nil {
		if err := fromWire(m["datum"], datum); err != nil {
			r.Log(robot.Error, "CheckoutDatum %s: %v", key, err)
			return token, exists, robot.DataFormatError
		}
	}
	return token, exists, ret
}

func (r *bot_) CheckinDatum(key, locktoken string) { r.do("CheckinDatum", key, locktoken) }

func (r *bot_) UpdateDatum(key, locktoken string, datum interface{}) robot.RetVal {
	wire, err := toWire(datum)
	if err != nil {
		r.Log(robot.Error, "UpdateDatum %s: %v", key, err)
		return robot.DataFormatError
	}
	return retOf(r.do("UpdateDatum", key, locktoken, wire))
}

func (r *bot_) DeleteDatum(key string) robot.RetVal { return retOf(r.do("DeleteDatum", key)) }

func (r *bot_) Remember(key, value string, shared bool) { r.do("Remember", key, value, shared) }

func (r *bot_) RememberThread(key, value string, shared bool) {
	r.do("RememberThread", key, value, shared)
}

func (r *bot_) RememberContext(context, value string) { r.do("RememberContext", context, value) }

func (r *bot_) RememberContextThread(context, value string) {
	r.do("RememberContextThread", context, value)
}

func (r *bot_) Recall(key string, shared bool) string {
	return strOf(r.do("Recall", key, shared), "string")
}

func (r *bot_) DeleteMemory(key string, shared bool) { r.do("DeleteMemory", key, shared) }

func (r *bot_) SpawnJob(name string, args ...string) robot.RetVal {
	return retOf(r.do("SpawnJob", strArgs([]interface{}{name}, args)...))
}

func (r *bot_) AddTask(name string, args ...string) robot.RetVal {
	return retOf(r.do("AddTask", strArgs([]interface{}{name}, args)...))
}

func (r *bot_) FinalTask(name string, args ...string) robot.RetVal {
	return retOf(r.do("FinalTask", strArgs([]interface{}{name}, args)...))
}

func (r *bot_) FailTask(name string, args ...string) robot.RetVal {
	return retOf(r.do("FailTask", strArgs([]interface{}{name}, args)...))
}

func (r *bot_) AddJob(name string, args ...string) robot.RetVal {
	return retOf(r.do("AddJob", strArgs([]interface{}{name}, args)...))
}

func (r *bot_) AddCommand(plugin, command string) robot.RetVal {
	return retOf(r.do("AddCommand", plugin, command))
}

func (r *bot_) FinalCommand(plugin, command string) robot.RetVal {
	return retOf(r.do("FinalCommand", plugin, command))
}

func (r *bot_) FailCommand(plugin, command string) robot.RetVal {
	return retOf(r.do("FailCommand", plugin, command))
}

func (r *bot_) EncryptSecret(plaintext string) (string, robot.RetVal) {
	m := r.do("EncryptSecret", plaintext)
	return strOf(m, "ciphertext"), retOf(m)
}

func (r *bot_) SetParameter(name, value string) bool {
	return boolOf(r.do("SetParameter", name, value), "bool")
}

func (r *bot_) SetWorkingDirectory(path string) bool {
	return boolOf(r.do("SetWorkingDirectory", path), "bool")
}
