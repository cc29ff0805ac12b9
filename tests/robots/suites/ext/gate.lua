-- An authorizer for the transcript tests: alice passes, everyone else is refused.
local gopherbot = require "gopherbot_v1"
local task, Robot = gopherbot.task, gopherbot.Robot

if arg[1] == "_configure" then
  return "{}"
end
if arg[1] == "_authorize" then
  return Robot:new().user == "alice" and task.Success or task.Fail
end
return task.Normal
