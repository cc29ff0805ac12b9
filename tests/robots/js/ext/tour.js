// One command per Robot method group, written as an upstream Gopherbot JavaScript extension would be.
const { Robot, ret, task, log } = require('gopherbot_v1')();

const config = `
Commands:
- {Command: say, Regex: 'say'}
- {Command: attrs, Regex: 'attrs'}
- {Command: config, Regex: 'config'}
- {Command: param, Regex: 'param'}
- {Command: remember, Regex: 'remember (\\w+)'}
- {Command: recall, Regex: 'recall'}
- {Command: datum, Regex: 'datum'}
- {Command: ask, Regex: 'ask'}
- {Command: lock, Regex: 'lock'}
- {Command: log, Regex: 'log'}
- {Command: escape, Regex: 'escape'}
- {Command: oom, Regex: 'oom'}
- {Command: oops, Regex: 'oops'}
- {Command: lib, Regex: 'lib'}
`;

function handler(argv) {
  const cmd = argv[2];
  if (cmd === "_configure") return config;
  const bot = new Robot();
  switch (cmd) {
    case "say":
      bot.Say("plain");
      bot.SayThread("in a thread");
      bot.Reply("to you");
      bot.Direct().Say("privately");
      break;
    case "attrs": {
      const full = bot.GetSenderAttribute("fullname");
      const name = bot.GetBotAttribute("name");
      const missing = bot.GetUserAttribute("alice", "phone");
      bot.Say(`${full.attribute} ${ret.string(full.retVal)} ${name.attribute} | ${missing.attribute} ${ret.string(missing.retVal)} | admin=${bot.CheckAdmin()}`);
      break;
    }
    case "config": {
      const c = bot.GetTaskConfig();
      bot.Say(`${c.config.Color} ${c.config.Sizes.length} ${ret.string(c.retVal)}`);
      break;
    }
    case "param":
      bot.SetParameter("FRUIT", "kiwi");
      bot.Say("added: " + ret.string(bot.AddTask("show-param", "x")));
      break;
    case "remember":
      bot.Remember("thing", argv[3]);
      bot.Say("remembered");
      break;
    case "recall":
      bot.Say(`recalled '${bot.Recall("thing")}'`);
      break;
    case "datum": {
      const memory = bot.CheckoutDatum("visits", true);
      const n = (memory.exists ? memory.datum.n : 0) + 1;
      memory.datum = { n: n };
      bot.Say(`visits ${n} ${ret.string(bot.UpdateDatum(memory))}`);
      break;
    }
    case "ask": {
      const r = bot.PromptForReply("YesNo", "Really?");
      bot.Say(`answer '${r.reply}' ${ret.string(r.retVal)}`);
      break;
    }
    case "lock":
      bot.Say("exclusive " + bot.Exclusive("deploy", false));
      break;
    case "log":
      bot.Log(log.Warn, "a warning from JavaScript");
      bot.Say("logged");
      break;
    case "escape": {
      const found = [];
      try { require('fs'); found.push("fs"); } catch (e) { /* no Node built-ins */ }
      if (typeof process.exit === "function") found.push("process.exit");
      if (typeof globalThis.python !== "undefined") found.push("python");
      bot.Say("escapes: " + (found.length ? found.join(",") : "none"));
      break;
    }
    case "oom": {
      const hog = [];
      for (;;) hog.push("x".repeat(1024) + hog.length);
    }
    case "lib":
      bot.Say(require('greet').hello(bot.user));
      break;
    case "oops": {
      const t = undefined;
      return t.field;
    }
  }
  return task.Normal;
}

handler(process.argv);
