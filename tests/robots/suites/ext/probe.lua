-- The transcript tests' plugin: one command per thing a transcript must be able to check.
local gopherbot = require "gopherbot_v1"
local task, fmt, Robot = gopherbot.task, gopherbot.fmt, gopherbot.Robot

if arg[1] == "_configure" then
  return [[
Commands:
- {Command: places, Regex: 'places'}
- {Command: formats, Regex: 'formats'}
- {Command: threadask, Regex: 'thread ask'}
- {Command: whoami, Regex: 'whoami'}
- {Command: secret, Regex: 'secret'}
- {Command: guarded, Regex: 'guarded'}
- {Command: later, Regex: 'later'}
- {Command: check, Regex: 'check'}
- {Command: config, Regex: 'config'}
MessageMatchers:
- {Command: kettle, Regex: '(?i:kettle)'}
]]
end

local bot = Robot:new()
local cmd = arg[1]

if cmd == "places" then
  bot:Say("said")
  bot:SayThread("said in a thread")
  bot:Reply("replied")
  bot:SendChannelThreadMessage(bot.channel, bot.thread_id, "thread is " .. bot.thread_id)
elseif cmd == "formats" then
  bot:Fixed():Say("Fixed Text")
  bot:Say("Variable Text", fmt.Variable)
  bot:Say("Raw Text", fmt.Raw)
elseif cmd == "threadask" then
  local answer = bot:PromptThreadForReply("SimpleString", "Which way?")
  bot:Say("way: " .. answer)
elseif cmd == "whoami" then
  local first = bot:GetSenderAttribute("firstName")
  local mail = bot:GetSenderAttribute("email")
  bot:Say("you are " .. first .. " <" .. mail .. ">")
elseif cmd == "secret" then
  bot:Say("secret ok")
elseif cmd == "guarded" then
  bot:Say("guarded ok")
elseif cmd == "later" then
  bot:Pause(0.6)
  bot:Remember("later", "done", true)
elseif cmd == "check" then
  local later = bot:Recall("later", true)
  bot:Say("later=" .. (later ~= "" and later or "<empty>"))
elseif cmd == "config" then
  local cfg = bot:GetTaskConfig()
  bot:Say("base=" .. cfg.HttpBaseURL .. " env=" .. cfg.Environment)
elseif cmd == "kettle" then
  bot:Say("tea?")
end
return task.Normal
