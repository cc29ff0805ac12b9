if (process.argv[2] === "_configure") {
  "Commands: [{Command: spin, Regex: spin}]";
} else {
  for (;;) {}
}
