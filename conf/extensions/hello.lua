-- hello.lua: a small Lua plugin for the default robot, and a tour of the gopherbot_v1 API.
--
--   hello                  greet the user (a random greeting from the plugin's Config)
--   remember <something>   keep it in short-term memory (this user, this channel)
--   recall                 say what was remembered
--   count                  add one to a counter kept in long-term memory (the brain)
--
-- Wired in conf/robot.yaml:
--   ExternalPlugins:
--     hello-lua: {Path: conf/extensions/hello.lua, Description: "Lua hello world"}

local defaultConfig = [[
Commands:
- Regex: '(?i:hello|hi)(?: there)?'
  Command: hello
  Usage: "(bot), hello"
  Summary: "greetings from a Lua plugin"
- Regex: '(?i:remember) (.+)'
  Command: remember
  Usage: "(bot), remember <something>"
  Summary: "keep something in short-term memory"
- Regex: '(?i:recall)'
  Command: recall
  Usage: "(bot), recall"
  Summary: "say what you asked me to remember"
- Regex: '(?i:count)'
  Command: count
  Usage: "(bot), count"
  Summary: "count in long-term memory"
Config:
  Greetings: ["Hello", "Howdy", "Hi there"]
]]

local gopherbot = require "gopherbot_v1"
local ret, task, log, Robot = gopherbot.ret, gopherbot.task, gopherbot.log, gopherbot.Robot

local commands = {}

function commands.hello(bot)
    local greeting = "Hello"
    local config, retVal = bot:GetTaskConfig()
    if retVal == ret.Ok and config and config.Greetings then
        greeting = bot:RandomString(config.Greetings)
    end
    local name = bot:GetSenderAttribute("firstname")
    if name == "" then
        name = bot.user
    end
    bot:Say("%s, %s! (from Lua, %s)", greeting, name, _VERSION)
    return task.Normal
end

function commands.remember(bot, thing)
    bot:Remember("hello-lua:thing", thing)
    bot:Reply("I'll remember \"%s\" for a while.", thing)
    return task.Normal
end

function commands.recall(bot)
    local thing = bot:Recall("hello-lua:thing")
    if thing == "" then
        bot:Reply("You didn't ask me to remember anything (or I forgot).")
    else
        bot:Reply("You asked me to remember \"%s\".", thing)
    end
    return task.Normal
end

function commands.count(bot)
    local memory, retVal = bot:CheckoutDatum("hello-lua-counter", true)
    if retVal ~= ret.Ok then
        bot:Reply("I couldn't read my counter: %s", ret:string(retVal))
        return task.Fail
    end
    local count = (memory.exists and memory.datum.count or 0) + 1
    memory.datum = { count = count, last = bot.user }
    retVal = bot:UpdateDatum(memory)
    if retVal ~= ret.Ok then
        bot:Reply("I couldn't save my counter: %s", ret:string(retVal))
        return task.Fail
    end
    bot:Say("The count is now %d.", count)
    return task.Normal
end

local command = arg[1]
if command == "_configure" then
    return defaultConfig
elseif command == "_init" then
    return task.Normal
end

local handler = commands[command]
if not handler then
    Robot:new():Log(log.Error, "hello.lua: unknown command '%s'", tostring(command))
    return task.Fail
end
return handler(Robot:new(), select(2, ...))
