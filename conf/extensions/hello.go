// hello.go: a small Go plugin for the default robot, the same commands as hello.lua and
// hello.js, written exactly as a Gopherbot Go extension (docs/go.md).
//
//	go hello                  greet the user (a random greeting from the plugin's Config)
//	go remember <something>   keep it in short-term memory (this user, this channel)
//	go recall                 say what was remembered
//	go count                  add one to a counter kept in long-term memory (the brain)
package main

import (
	"runtime"

	"github.com/lnxjedi/gopherbot/robot"
)

var defaultConfig = []byte(`
Commands:
- Regex: '(?i:go hello)'
  Command: hello
  Usage: "(bot), go hello"
  Summary: "greetings from a Go plugin"
- Regex: '(?i:go remember) (.+)'
  Command: remember
  Usage: "(bot), go remember <something>"
  Summary: "keep something in short-term memory"
- Regex: '(?i:go recall)'
  Command: recall
  Usage: "(bot), go recall"
  Summary: "say what you asked me to remember"
- Regex: '(?i:go count)'
  Command: count
  Usage: "(bot), go count"
  Summary: "count in long-term memory"
Config:
  Greetings: ["Hello", "Howdy", "Hi there"]
`)

// Configure returns the plugin's default configuration.
func Configure() *[]byte {
	return &defaultConfig
}

type helloConfig struct {
	Greetings []string
}

type counter struct {
	Count int    `json:"count"`
	Last  string `json:"last"`
}

// PluginHandler runs one command.
func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {
	switch command {
	case "_init":
		return robot.Normal
	case "hello":
		greeting := "Hello"
		var cfg helloConfig
		if ret := r.GetTaskConfig(&cfg); ret == robot.Ok && len(cfg.Greetings) > 0 {
			greeting = r.RandomString(cfg.Greetings)
		}
		name := r.GetSenderAttribute("firstname").Attribute
		if name == "" {
			name = r.GetMessage().User
		}
		r.Say("%s, %s! (from Go, %s)", greeting, name, runtime.Version())
	case "remember":
		r.Remember("hello-go:thing", args[0], false)
		r.Reply("I'll remember \"%s\" for a while.", args[0])
	case "recall":
		if thing := r.Recall("hello-go:thing", false); thing == "" {
			r.Reply("You didn't ask me to remember anything (or I forgot).")
		} else {
			r.Reply("You asked me to remember \"%s\".", thing)
		}
	case "count":
		var c counter
		lock, _, ret := r.CheckoutDatum("hello-go-counter", &c, true)
		if ret != robot.Ok {
			r.Reply("I couldn't read my counter: %s", ret)
			return robot.Fail
		}
		c.Count++
		c.Last = r.GetMessage().User
		if ret := r.UpdateDatum("hello-go-counter", lock, &c); ret != robot.Ok {
			r.Reply("I couldn't save my counter: %s", ret)
			return robot.Fail
		}
		r.Say("The count is now %d.", c.Count)
	default:
		r.Log(robot.Error, "hello.go: unknown command '%s'", command)
		return robot.Fail
	}
	return robot.Normal
}
