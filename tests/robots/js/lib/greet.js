// A module on the robot's lib path: require('greet') from any JavaScript extension of this robot.
module.exports = { hello: (name) => "hello from lib, " + name };
