// hello.js: a small JavaScript plugin for the default robot, and a tour of the gopherbot_v1 API.
//
//   hello                  greet the user (a random greeting from the plugin's Config)
//   remember <something>   keep it in short-term memory (this user, this channel)
//   recall                 say what was remembered
//   count                  add one to a counter kept in long-term memory (the brain)
//
// Wired in conf/robot.yaml (its commands renamed to "js ..." by conf/plugins/hello-js.yaml):
//   ExternalPlugins:
//     hello-js: {Path: conf/extensions/hello.js, Description: "JavaScript hello world"}
//
// Robot methods are synchronous, as in Gopherbot: no await anywhere.

const defaultConfig = `
Commands:
- Regex: '(?i:hello|hi)(?: there)?'
  Command: hello
  Usage: "(bot), hello"
  Summary: "greetings from a JavaScript plugin"
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
`;

const { Robot, ret, task, log } = require("gopherbot_v1")();

const commands = {
  hello(bot) {
    let greeting = "Hello";
    const { config, retVal } = bot.GetTaskConfig();
    if (retVal === ret.Ok && config && Array.isArray(config.Greetings)) {
      greeting = bot.RandomString(config.Greetings);
    }
    const name = bot.GetSenderAttribute("firstname").attribute || bot.user;
    bot.Say("%s, %s! (from JavaScript)", greeting, name);
    return task.Normal;
  },

  remember(bot, thing) {
    bot.Remember("hello-js:thing", thing);
    bot.Reply(`I'll remember "${thing}" for a while.`);
    return task.Normal;
  },

  recall(bot) {
    const thing = bot.Recall("hello-js:thing");
    bot.Reply(thing === ""
      ? "You didn't ask me to remember anything (or I forgot)."
      : `You asked me to remember "${thing}".`);
    return task.Normal;
  },

  count(bot) {
    const memory = bot.CheckoutDatum("hello-js-counter", true);
    if (memory.retVal !== ret.Ok) {
      bot.Reply("I couldn't read my counter: %s", ret.string(memory.retVal));
      return task.Fail;
    }
    const count = (memory.exists ? memory.datum.count : 0) + 1;
    memory.datum = { count, last: bot.user };
    const retVal = bot.UpdateDatum(memory);
    if (retVal !== ret.Ok) {
      bot.Reply("I couldn't save my counter: %s", ret.string(retVal));
      return task.Fail;
    }
    bot.Say("The count is now %d.", count);
    return task.Normal;
  },
};

// The value of the last expression statement is the result: YAML for _configure, a TaskRetVal
// otherwise.
function main(command, ...args) {
  if (command === "_configure") return defaultConfig;
  if (command === "_init") return task.Normal;
  const bot = new Robot();
  const handler = commands[command];
  if (!handler) {
    bot.Log(log.Error, "hello.js: unknown command '%s'", String(command));
    return task.Fail;
  }
  return handler(bot, ...args);
}

main(...process.argv.slice(2));
