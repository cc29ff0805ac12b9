const { Robot, task } = require('gopherbot_v1')();
const bot = new Robot();
bot.Say(`task got ${process.argv[2]}, fruit=${bot.GetParameter("FRUIT")} greeting=${bot.GetParameter("GREETING")}`);
task.Normal;
