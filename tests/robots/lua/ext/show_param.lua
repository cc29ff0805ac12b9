local gopherbot = require "gopherbot_v1"
local bot = gopherbot.Robot:new()
bot:Say(string.format("task got %s, fruit=%s greeting=%s", arg[1], bot:GetParameter("FRUIT"), bot:GetParameter("GREETING")))
return gopherbot.task.Normal
