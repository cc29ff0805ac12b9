-- A syntax error: the plugin is disabled at start-up with the file and line, and the robot runs.
if arg[1] == "_configure" then
  return "Commands: [{Command: broken, Regex: broken}]"
end end
