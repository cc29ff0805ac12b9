// A syntax error: the plugin is disabled at start-up with the file and line, and the robot runs.
if (process.argv[2] === "_configure") {
  "Commands: [{Command: broken, Regex: broken}]";
}}
