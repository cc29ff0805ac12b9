// Package burrowchild runs a compiled Go extension as the program behind a Burrow child: it
// reads the execution request, serves the extension's handlers a robot.Robot whose methods
// are `robot_call` requests (docs/protocol.md), and answers. The Python child (burrow_go)
// starts the program with the protocol on two descriptors given on its command line; fd 0 is
// /dev/null and fd 1 is the task log, as in every Burrow child.
package burrowchild

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/lnxjedi/gopherbot/robot"
)

// Version of this module's protocol client; part of the build cache key.
const Version = "1"

// Handlers are the extension's functions; nil when the extension has none.
type Handlers struct {
	File      string
	Configure func() *[]byte
	Plugin    func(r robot.Robot, command string, args ...string) robot.TaskRetVal
	Job       func(r robot.Robot, args ...string) robot.TaskRetVal
	Task      func(r robot.Robot, args ...string) robot.TaskRetVal
}

type session struct {
	in   *decoder
	out  *os.File
	next uint32
}

var errClosed = errors.New("the robot closed the connection")

func (s *session) send(msg []interface{}) error {
	buf, err := encode(nil, msg)
	if err != nil {
		return err
	}
	_, err = s.out.Write(buf)
	return err
}

func (s *session) read() ([]interface{}, error) {
	v, err := s.in.decode(0)
	if err != nil {
		return nil, err
	}
	msg, ok := v.([]interface{})
	if !ok || len(msg) < 3 {
		return nil, fmt.Errorf("not a message: %v", v)
	}
	return msg, nil
}

// rpcError is an error answered by the robot.
type rpcError struct{ code, message string }

func (e *rpcError) Error() string { return e.code + ": " + e.message }

// call sends one robot_call and waits for its answer (robot calls are synchronous).
func (s *session) call(method string, args []interface{}, options map[string]interface{}) (map[string]interface{}, error) {
	id := s.next
	s.next++
	call := map[string]interface{}{"method": method, "args": args}
	if len(options) > 0 {
		call["options"] = options
	}
	if err := s.send([]interface{}{0, id, "robot_call", []interface{}{call}}); err != nil {
		return nil, err
	}
	for {
		msg, err := s.read()
		if err != nil {
			return nil, err
		}
		if kind, _ := msg[0].(int64); kind != 1 || len(msg) != 4 {
			continue
		}
		if got, _ := msg[1].(int64); got != int64(id) {
			continue
		}
		if e, ok := msg[2].(map[string]interface{}); ok {
			code, _ := e["code"].(string)
			text, _ := e["message"].(string)
			return nil, &rpcError{code, text}
		}
		result, _ := msg[3].(map[string]interface{})
		return result, nil
	}
}

// Main serves one execution request and exits; the generated main of every extension calls it.
func Main(h Handlers) {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "this program is a Burrow Go extension; the robot runs it")
		os.Exit(2)
	}
	rfd, err1 := strconv.Atoi(os.Args[1])
	wfd, err2 := strconv.Atoi(os.Args[2])
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "bad descriptor arguments")
		os.Exit(2)
	}
	// Programs the extension starts must not inherit the protocol.
	syscall.CloseOnExec(rfd)
	syscall.CloseOnExec(wfd)
	s := &session{
		in:  &decoder{bufio.NewReaderSize(os.NewFile(uintptr(rfd), "burrow-in"), 65536)},
		out: os.NewFile(uintptr(wfd), "burrow-out"),
	}
	msg, err := s.read()
	if err != nil {
		fmt.Fprintf(os.Stderr, "reading the request: %v\n", err)
		os.Exit(2)
	}
	msgid := msg[1]
	method, _ := msg[2].(string)
	var params map[string]interface{}
	if list, ok := msg[3].([]interface{}); ok && len(list) == 1 {
		params, _ = list[0].(map[string]interface{})
	}
	result, failure := execute(s, h, method, params)
	var answer []interface{}
	if failure != nil {
		answer = []interface{}{1, msgid, failure, nil}
	} else {
		answer = []interface{}{1, msgid, nil, result}
	}
	if err := s.send(answer); err != nil {
		fmt.Fprintf(os.Stderr, "answering: %v\n", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func execute(s *session, h Handlers, method string, params map[string]interface{}) (result map[string]interface{}, failure map[string]interface{}) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(closedPanic); ok {
				os.Exit(0) // the robot went away: nobody to answer
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
