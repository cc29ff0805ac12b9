// Burrow's JavaScript prelude: run once per child, before the extension, by burrow_js.runtime.
// It takes the synchronous bridge that burrow_js._v8 installed, hides it in this closure, and
// sets up what a Gopherbot extension expects: process.argv, GBOT, console and CommonJS require
// (built-in gopherbot_v1 first, then relative paths and the robot's lib paths).
(function (boot) {
  "use strict";
  const bridge = globalThis.__burrow_bridge;
  delete globalThis.__burrow_bridge;
  // Captured now, so that replacing JSON or Object later does not reach the bridge itself.
  // A toJSON on a prototype can still reshape a request, so the Python side checks every
  // field of every request, and the robot checks every call it serves.
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const hasOwn = Object.hasOwn;
  const freeze = Object.freeze;
  const keys = Object.keys;
  const evaluate = eval; // indirect: compiles in global scope
  const op = (request) => parse(bridge(stringify(request)));

  // --- console: each line goes to the task log at a level ---------------------------------
  const show = (value, top) => {
    if (typeof value === "string") return top ? value : stringify(value);
    if (value === undefined) return "undefined";
    if (typeof value === "function") return `[Function: ${value.name || "(anonymous)"}]`;
    if (typeof value === "bigint") return `${value}n`;
    if (typeof value === "symbol") return value.toString();
    if (value instanceof Error) return value.stack || String(value);
    if (value !== null && typeof value === "object") {
      try {
        const text = stringify(value);
        if (text !== undefined) return text;
      } catch (e) {
        // circular or otherwise unserializable: fall through to the tag
      }
      return Object.prototype.toString.call(value);
    }
    return String(value);
  };
  // Node's util.format: %s %d %i %f %j %o %O %c %% in a leading string, the rest space-joined.
  const format = (args) => {
    const parts = [];
    let next = 0;
    if (typeof args[0] === "string") {
      next = 1;
      parts.push(
        args[0].replace(/%[sdifjoOc%]/g, (verb) => {
          if (verb === "%%") return "%";
          if (next >= args.length) return verb;
          const value = args[next++];
          switch (verb) {
            case "%s":
              return show(value, true);
            case "%d":
              return typeof value === "object" ? "NaN" : String(Number(value));
            case "%i":
              return String(parseInt(value, 10));
            case "%f":
              return String(parseFloat(value));
            case "%c":
              return "";
            default:
              return show(value, false);
          }
        }),
      );
    }
    for (; next < args.length; next++) parts.push(show(args[next], true));
    return parts.join(" ");
  };
  const logger = (level) =>
    function (...args) {
      op({ op: "log", level, message: format(args) });
    };
  globalThis.console = freeze({
    trace: logger(0),
    debug: logger(1),
    log: logger(2),
    info: logger(2),
    warn: logger(4),
    error: logger(5),
  });

  // --- process and GBOT ----------------------------------------------------------------------
  globalThis.process = { argv: boot.argv, env: boot.env, platform: boot.platform };
  const bot = boot.bot || {};
  const text = (value) => (typeof value === "string" ? value : "");
  const stripped = (value) => text(value).replace(/^<(.*)>$/, "$1");
  globalThis.GBOT = freeze({
    user: text(bot.user),
    user_id: stripped(bot.user_id),
    channel: text(bot.channel),
    channel_id: stripped(bot.channel_id),
    thread_id: text(bot.thread_id),
    message_id: text(bot.message_id),
    threaded_message: bot.threaded_message === true,
    protocol: text(bot.protocol),
    brain: text(bot.brain),
    type: text(bot.type) || "native",
  });

  // --- what built-in modules get besides CommonJS: the way to the Robot API -----------------
  const internal = freeze({
    configure: boot.configure,
    // Returns the robot_call result map, or null when the call failed (the runtime logged it).
    call(method, args, options) {
      if (boot.configure) {
        throw new Error(`${method}: the Robot API is not available during _configure`);
      }
      const request = { op: "call", method, args };
      if (options && keys(options).length) request.options = options;
      const reply = op(request);
      return hasOwn(reply, "error") ? null : reply.result;
    },
    // One request of the http module (js/http.js): {response} or {error}.
    http(request) {
      return op({ op: "http", request });
    },
  });

  // --- CommonJS require ------------------------------------------------------------------------
  const WRAPPER = "exports, require, module, __filename, __dirname";
  const cache = new Map();
  const dirname = (path) => {
    const cut = path.lastIndexOf("/");
    return cut > 0 ? path.slice(0, cut) : "/";
  };
  // The wrapper opens on the module's first line, so line numbers in stacks stay true.
  const compile = (source, name, params) =>
    evaluate(`(function (${params}) {${source}\n})\n//# sourceURL=${name}`);

  const instantiate = (name, source, filename, run) => {
    const module = { id: filename, filename, exports: {}, loaded: false };
    cache.set(name, module);
    try {
      run(module, source);
    } catch (error) {
      cache.delete(name); // as in Node: a module that failed is tried afresh next time
      throw error;
    }
    module.loaded = true;
    return module.exports;
  };

  const makeRequire = (directory) =>
    function require(name) {
      if (typeof name !== "string" || name === "") {
        throw new TypeError(`require: the module name must be a non-empty string, got ${show(name)}`);
      }
      if (hasOwn(boot.builtins, name)) {
        const key = `${boot.builtin_prefix}${name}`;
        if (cache.has(key)) return cache.get(key).exports;
        return instantiate(key, boot.builtins[name], key, (module, source) => {
          const body = compile(source, `${key}.js`, `${WRAPPER}, __burrow`);
          body.call(module.exports, module.exports, require, module, key, "/", internal);
        });
      }
      const found = op({ op: "require", name, base: directory });
      if (hasOwn(found, "error")) {
        const error = new Error(found.error);
        error.code = "MODULE_NOT_FOUND";
        throw error;
      }
      const path = found.path;
      if (cache.has(path)) return cache.get(path).exports;
      return instantiate(path, found.source, path, (module, source) => {
        if (path.endsWith(".json")) {
          try {
            module.exports = parse(source);
          } catch (error) {
            throw new SyntaxError(`${path}: ${error.message}`);
          }
          return;
        }
        const here = dirname(path);
        compile(source, path, WRAPPER).call(
          module.exports, module.exports, makeRequire(here), module, path, here);
      });
    };

  globalThis.require = makeRequire(boot.script_dir);
})
