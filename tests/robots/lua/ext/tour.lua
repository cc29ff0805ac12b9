-- One command per Robot method group, written as an upstream Gopherbot Lua extension would be.
local gopherbot = require "gopherbot_v1"
local ret, task, log, Robot = gopherbot.ret, gopherbot.task, gopherbot.log, gopherbot.Robot

if arg[1] == "_configure" then
  return [[
Commands:
- {Command: say, Regex: 'say'}
- {Command: attrs, Regex: 'attrs'}
- {Command: config, Regex: 'config'}
- {Command: param, Regex: 'param'}
- {Command: remember, Regex: 'remember (\w+)'}
- {Command: recall, Regex: 'recall'}
- {Command: datum, Regex: 'datum'}
- {Command: ask, Regex: 'ask'}
- {Command: lock, Regex: 'lock'}
- {Command: log, Regex: 'log'}
- {Command: escape, Regex: 'escape'}
- {Command: oom, Regex: 'oom'}
- {Command: oops, Regex: 'oops'}
- {Command: lib, Regex: 'lib'}
]]
end

local bot = Robot:new()
local cmd = arg[1]

if cmd == "say" then
  bot:Say("plain")
  bot:SayThread("in a thread")
  bot:Reply("to you")
  bot:Direct():Say("privately")
elseif cmd == "attrs" then
  local full, rv = bot:GetSenderAttribute("fullname")
  local name = bot:GetBotAttribute("name")
  local missing, mrv = bot:GetUserAttribute("alice", "phone")
  bot:Say(string.format("%s %s %s | %s %s | admin=%s", full, ret:string(rv), name, missing, ret:string(mrv), tostring(bot:CheckAdmin())))
elseif cmd == "config" then
  local cfg, rv = bot:GetTaskConfig()
  bot:Say(string.format("%s %d %s", cfg.Color, #cfg.Sizes, ret:string(rv)))
elseif cmd == "param" then
  bot:SetParameter("FRUIT", "kiwi")
  bot:Say("added: " .. ret:string(bot:AddTask("show-param", "x")))
elseif cmd == "remember" then
  bot:Remember("thing", arg[2])
  bot:Say("remembered")
elseif cmd == "recall" then
  bot:Say("recalled '" .. bot:Recall("thing") .. "'")
elseif cmd == "datum" then
  local memory, rv = bot:CheckoutDatum("visits", true)
  local n = (memory.exists and memory.datum.n or 0) + 1
  memory.datum = {n = n}
  bot:Say(string.format("visits %d %s", n, ret:string(bot:UpdateDatum(memory))))
elseif cmd == "ask" then
  local reply, rv = bot:PromptForReply("YesNo", "Really?")
  bot:Say("answer '" .. reply .. "' " .. ret:string(rv))
elseif cmd == "lock" then
  bot:Say("exclusive " .. tostring(bot:Exclusive("deploy", false)))
elseif cmd == "log" then
  bot:Log(log.Warn, "a warning from Lua")
  bot:Say("logged")
elseif cmd == "escape" then
  local found = {}
  if io ~= nil then table.insert(found, "io") end
  if os.execute ~= nil then table.insert(found, "os.execute") end
  if python ~= nil then table.insert(found, "python") end
  local ok = pcall(function() return load(string.dump(function() end)) end)
  if ok and string.dump ~= nil then table.insert(found, "bytecode") end
  if package.loadlib ~= nil then table.insert(found, "loadlib") end
  bot:Say("escapes: " .. (#found == 0 and "none" or table.concat(found, ",")))
elseif cmd == "oom" then
  local hog = {}
  for i = 1, 1e9 do hog[i] = string.rep("x", 1024) .. i end
elseif cmd == "lib" then
  bot:Say(require("greet").hello(bot.user))
elseif cmd == "oops" then
  local t = nil
  return t.field
end
return task.Normal
