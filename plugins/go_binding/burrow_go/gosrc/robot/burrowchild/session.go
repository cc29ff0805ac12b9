// Package burrowchild runs a compiled Go extension as a Burrow child: the Python child
// (burrow_go) did the handshake, applied the limits, the account, the environment and the
// working directory, then replaced itself with this program (exec), which continues the same
// session (docs/protocol.md) on the descriptors it was handed: it answers the execution
// request, makes the extension's robot.Robot methods `robot_call` requests, and answers the
// robot's `$/shutdown`. fd 0 is /dev/null and fd 1 the task log, as in every Burrow child.
package burrowchild

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/lnxjedi/gopherbot/robot"
)

// Version of this module's protocol client; part of the build cache key.
const Version = "2"

// Handlers are the extension's functions; nil when the extension has none.
type Handlers struct {
	File      string
	Configure func() *[]byte
	Plugin    func(r robot.Robot, command string, args ...string) robot.TaskRetVal
	Job       func(r robot.Robot, args ...string) robot.TaskRetVal
	Task      func(r robot.Robot, args ...string) robot.TaskRetVal
}

const (
	exitOK       = 0
	exitProtocol = 2
	logError     = 5
)

type session struct {
	in      *decoder
	out     *os.File
	wmu     sync.Mutex // one whole message at a time, from either goroutine
	cmu     sync.Mutex // one robot call at a time
	maxSize int
	next    uint32 // msgid of our next request
	execID  interface{}
	// The msgid of the robot call waiting for its answer (-1: none) and where the reader
	// hands that answer over.
	pending  atomic.Int64
	replies  chan []interface{}
	answered bool // under wmu: the execution has its answer (only one is ever sent)
}

// rpcError is an error answered by the robot (or found before sending the call).
type rpcError struct{ code, message string }

func (e *rpcError) Error() string { return e.code + ": " + e.message }

var errAnswered = errors.New("the execution was already answered")

func warn(format string, v ...interface{}) {
	fmt.Fprintf(os.Stderr, "burrow go child[%d]: %s\n", os.Getpid(), fmt.Sprintf(format, v...))
}

// write sends one message whole; a message over the size limit is refused before a byte of
// it is written (docs/protocol.md).
func (s *session) write(msg []interface{}) error {
	buf, err := encode(nil, msg)
	if err != nil {
		return err
	}
	if len(buf) > s.maxSize {
		return &rpcError{"protocol_error", fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes", len(buf), s.maxSize)}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err = s.out.Write(buf)
	return err
}

// answer sends the execution's answer, once: a cancel may have answered it already.
func (s *session) answer(failure map[string]interface{}, result map[string]interface{}) error {
	msg := []interface{}{1, s.execID, nil, result}
	if failure != nil {
		msg = []interface{}{1, s.execID, failure, nil}
	}
	buf, err := encode(nil, msg)
	if err == nil && len(buf) > s.maxSize {
		err = fmt.Errorf("an answer of %d bytes exceeds the limit of %d bytes", len(buf), s.maxSize)
	}
	if err != nil {
		buf, _ = encode(nil, []interface{}{1, s.execID, map[string]interface{}{"code": "protocol_error", "message": err.Error()}, nil})
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.answered {
		return errAnswered
	}
	s.answered = true
	_, err = s.out.Write(buf)
	return err
}

func (s *session) log(level int, message string) {
	_ = s.write([]interface{}{2, "$/log", []interface{}{map[string]interface{}{"level": int64(level), "message": message}}})
}

// call sends one robot_call and waits for its answer (robot calls are synchronous; calls
// from several goroutines of the extension take turns, as the robot serves them one at a time).
func (s *session) call(method string, args []interface{}, options map[string]interface{}) (map[string]interface{}, error) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	id := s.next
	s.next++ // wraps after 2**32-1; only one request is ever pending
	call := map[string]interface{}{"method": method, "args": args}
	if len(options) > 0 {
		call["options"] = options
	}
	s.pending.Store(int64(id))
	defer s.pending.Store(-1)
	if err := s.write([]interface{}{0, id, "robot_call", []interface{}{call}}); err != nil {
		if e, ok := err.(*rpcError); ok {
			return nil, e
		}
		return nil, err
	}
	msg := <-s.replies
	if e, ok := msg[2].(map[string]interface{}); ok {
		code, _ := e["code"].(string)
		text, _ := e["message"].(string)
		return nil, &rpcError{code, text}
	}
	result, _ := msg[3].(map[string]interface{})
	return result, nil
}

// readLoop reads the robot's messages for the whole life of the program: answers to robot
// calls go to the waiting call; `$/cancel` of the execution answers it `canceled` and ends
// the program at once (a Go loop or a blocked call alike); `$/shutdown` is answered and
// ends it; the end of the stream ends it (the robot is stopping this child); a frame over
// the size limit or an undecodable one is a protocol failure (exit 2).
func (s *session) readLoop() {
	for {
		s.in.left = s.maxSize
		v, err := s.in.decode(0)
		if err == io.EOF && s.in.left == s.maxSize {
			os.Exit(exitOK)
		}
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				os.Exit(exitOK) // ended mid-frame: the robot went away
			}
			warn("protocol failure: %v", err)
			os.Exit(exitProtocol)
		}
		msg, ok := v.([]interface{})
		if !ok || len(msg) < 3 {
			warn("protocol failure: not a message: %.80v", v)
			os.Exit(exitProtocol)
		}
		kind, _ := msg[0].(int64)
		switch {
		case kind == 1 && len(msg) == 4:
			id, _ := msg[1].(int64)
			if id >= 0 && id == s.pending.Load() {
				s.replies <- msg
			} else {
				warn("ignoring a response to msgid %v nobody awaits", msg[1])
			}
		case kind == 2:
			if method, _ := msg[1].(string); method == "$/cancel" {
				s.canceled(msg[2])
			}
		case kind == 0 && len(msg) == 4:
			method, _ := msg[2].(string)
			if method == "$/shutdown" {
				_ = s.write([]interface{}{1, msg[1], nil, map[string]interface{}{"ok": true}})
				os.Exit(exitOK)
			}
			text := method + " cannot be served during an execution"
			code := "invalid_state"
			if strings.HasPrefix(method, "$/") {
				code, text = "method_not_found", method
			}
			_ = s.write([]interface{}{1, msg[1], map[string]interface{}{"code": code, "message": text}, nil})
		default:
			warn("protocol failure: a malformed message")
			os.Exit(exitProtocol)
		}
	}
}

func (s *session) canceled(params interface{}) {
	list, _ := params.([]interface{})
	if len(list) != 1 {
		return
	}
	p, _ := list[0].(map[string]interface{})
	if p == nil || fmt.Sprint(p["msgid"]) != fmt.Sprint(s.execID) {
		return
	}
	if s.answer(map[string]interface{}{"code": "canceled", "message": "the execution was cancelled by the robot"}, nil) == nil {
		os.Exit(exitOK)
	}
	// Already answered: the robot's $/shutdown (or EOF) ends the program.
}

// state is what the Python child handed over with the session (burrow_go.runtime).
type state struct {
	execID   interface{}
	method   string
	params   map[string]interface{}
	maxSize  int
	next     uint32
	buffered []byte
}

func readState(fd int) (*state, error) {
	f := os.NewFile(uintptr(fd), "burrow-state")
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	d := &decoder{r: bufio.NewReader(bytes.NewReader(data)), left: len(data)}
	v, err := d.decode(0)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, errors.New("not a map")
	}
	st := &state{execID: m["msgid"], params: map[string]interface{}{}}
	st.method, _ = m["method"].(string)
	if p, ok := m["params"].(map[string]interface{}); ok {
		st.params = p
	}
	if n, ok := m["max_message_size"].(int64); ok && n > 0 {
		st.maxSize = int(min(n, int64(1)<<40))
	} else {
		st.maxSize = 16 << 20
	}
	if n, ok := m["next_msgid"].(int64); ok {
		st.next = uint32(n)
	}
	st.buffered, _ = m["buffered"].([]byte)
	if st.method == "" || st.execID == nil {
		return nil, errors.New("no execution request")
	}
	return st, nil
}

// Main serves the execution request it was handed and exits; the generated main of every
// extension calls it. Its command line: `burrow-session RFD WFD STATEFD`.
func Main(h Handlers) {
	if len(os.Args) != 5 || os.Args[1] != "burrow-session" {
		fmt.Fprintln(os.Stderr, "this program is a Burrow Go extension; the robot runs it")
		os.Exit(exitProtocol)
	}
	var fds [3]int
	for i := range fds {
		n, err := strconv.Atoi(os.Args[2+i])
		if err != nil || n < 3 {
			fmt.Fprintln(os.Stderr, "bad descriptor arguments")
			os.Exit(exitProtocol)
		}
		// Programs the extension starts must not inherit the protocol.
		syscall.CloseOnExec(n)
		fds[i] = n
	}
	st, err := readState(fds[2])
	if err != nil {
		warn("reading the session state: %v", err)
		os.Exit(exitProtocol)
	}
	in := io.MultiReader(bytes.NewReader(st.buffered), os.NewFile(uintptr(fds[0]), "burrow-in"))
	s := &session{
		in:      &decoder{r: bufio.NewReaderSize(in, 65536)},
		out:     os.NewFile(uintptr(fds[1]), "burrow-out"),
		maxSize: st.maxSize,
		next:    st.next,
		execID:  st.execID,
		replies: make(chan []interface{}, 1),
	}
	s.pending.Store(-1)
	go s.readLoop()
	result, failure := execute(s, h, st.method, st.params)
	if err := s.answer(failure, result); err != nil && err != errAnswered {
		warn("answering: %v", err)
		os.Exit(exitProtocol)
	}
	select {} // the reader ends the program at $/shutdown or at the end of the stream
}

func execute(s *session, h Handlers, method string, params map[string]interface{}) (result map[string]interface{}, failure map[string]interface{}) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(closedPanic); ok {
				os.Exit(exitOK) // the robot went away: nobody to answer
			}
			failure = panicked(h.File, p, string(debug.Stack()))
		}
	}()
	kind, _ := params["kind"].(string)
	var args []string
	if list, ok := params["args"].([]interface{}); ok {
		for _, a := range list {
			args = append(args, fmt.Sprint(a))
		}
	}
	if strings.HasSuffix(method, "_get_config") {
		if h.Configure == nil {
			return nil, extensionError(h.File, 0, "the extension defines no Configure() *[]byte", "")
		}
		cfg := h.Configure()
		if cfg == nil {
			return nil, extensionError(h.File, 0, "Configure() returned nil; it must return the default configuration (YAML)", "")
		}
		return map[string]interface{}{"config": string(*cfg)}, nil
	}
	bot, _ := params["bot"].(map[string]interface{})
	r := &bot_{s: s, fields: bot}
	var ret robot.TaskRetVal
	switch {
	case kind == "plugin" && h.Plugin != nil:
		command := ""
		if len(args) > 0 {
			command, args = args[0], args[1:]
		}
		ret = h.Plugin(r, command, args...)
	case kind == "job" && h.Job != nil:
		ret = h.Job(r, args...)
	case kind == "task" && h.Task != nil:
		ret = h.Task(r, args...)
	default:
		return nil, extensionError(h.File, 0, fmt.Sprintf("this build has no handler for a %q", kind), "")
	}
	return map[string]interface{}{"ret_val": int64(ret)}, nil
}

func extensionError(file string, line int, message, trace string) map[string]interface{} {
	data := map[string]interface{}{"language": "go", "file": file}
	if line > 0 {
		data["line"] = int64(line)
	}
	if trace != "" {
		data["traceback"] = trace
	}
	return map[string]interface{}{"code": "extension_error", "message": message, "data": data}
}

// panicked reports a panic at the deepest line of the extension's file on the stack.
func panicked(file string, p interface{}, stack string) map[string]interface{} {
	line := 0
	pattern := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(file) + `:(\d+)`)
	if m := pattern.FindStringSubmatch(stack); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	message := fmt.Sprintf("panic: %v", p)
	if line > 0 {
		message = fmt.Sprintf("%s:%d: %s", file, line, message)
	}
	return extensionError(file, line, message, stack)
}

// closedPanic ends the extension when the robot has gone away mid-call.
type closedPanic struct{}
