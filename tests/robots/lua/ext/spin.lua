if arg[1] == "_configure" then
  return "Commands: [{Command: spin, Regex: spin}]"
end
while true do end
