-- A module on the robot's lib path: require "greet" from any Lua extension of this robot.
local M = {}
function M.hello(name) return "hello from lib, " .. name end
return M
