// gopherbot_v1: Gopherbot's JavaScript extension library, as Burrow serves it.
//   const { Robot, ret, task, log, fmt, proto } = require("gopherbot_v1")();
//   const bot = new Robot();  bot.Say("hi");
// Every Robot method is synchronous: it becomes one robot_call to the robot (through
// __burrow.call, which the prelude provides) and returns Gopherbot's JavaScript result shape.
"use strict";

const call = __burrow.call;

// --- Constants, each table with a non-enumerable .string(value) reverse lookup ---------------
const table = (kind, values) => {
  const result = Object.assign({}, values);
  Object.defineProperty(result, "string", {
    value(value) {
      for (const name of Object.keys(result)) if (result[name] === value) return name;
      return `Unknown${kind}`;
    },
  });
  return Object.freeze(result);
};

const ret = table("RetVal", {
  Ok: 0, UserNotFound: 1, ChannelNotFound: 2, AttributeNotFound: 3, FailedMessageSend: 4,
  FailedChannelJoin: 5, DatumNotFound: 6, DatumLockExpired: 7, DataFormatError: 8,
  BrainFailed: 9, InvalidDatumKey: 10, InvalidConfigPointer: 11, ConfigUnmarshalError: 12,
  NoConfigFound: 13, RetryPrompt: 14, ReplyNotMatched: 15, UseDefaultValue: 16,
  TimeoutExpired: 17, Interrupted: 18, MatcherNotFound: 19, NoUserEmail: 20, NoBotEmail: 21,
  MailError: 22, TaskNotFound: 23, MissingArguments: 24, InvalidStage: 25,
  InvalidTaskType: 26, CommandNotMatched: 27, TaskDisabled: 28, PrivilegeViolation: 29,
  IdentityProviderNotFound: 30, IdentityNotLinked: 31, IdentityReauthRequired: 32,
  IdentityRefreshFailed: 33, IdentityInvalidLinkRequest: 34, IdentityConfigError: 35,
  Failed: 63,
});
const task = table("TaskRetVal", {
  Normal: 0, Fail: 1, MechanismFail: 2, ConfigurationError: 3, PipelineAborted: 4,
  RobotStopping: 5, NotFound: 6, Success: 7,
});
const log = table("LogLevel", {
  Trace: 0, Debug: 1, Info: 2, Audit: 3, Warn: 4, Error: 5, Fatal: 6,
});
const fmt = table("MessageFormat", { Raw: 0, Fixed: 1, Variable: 2, BasicMarkdown: 3 });
// Gopherbot's current protocol numbers, not the stale table its old library exported (see
// docs/javascript.md); bot.protocol itself is a lowercase string such as "slack".
const proto = table("Protocol", {
  Slack: 0, GoogleChat: 1, Rocket: 2, Terminal: 3, Test: 4, Null: 5, SSH: 6,
});

// --- Go-style formatting of message arguments ---------------------------------------------
// No space flag: "50% done" is plain text, not a "% d" conversion.
const VERB = /%([-+#0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g;
const hasVerb = (text) => {
  for (const match of text.matchAll(VERB)) if (match[4] !== "%") return true;
  return false;
};
const goType = (value) => {
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float64";
  if (typeof value === "boolean") return "bool";
  if (value === null || value === undefined) return "<nil>";
  return Array.isArray(value) ? "[]interface {}" : typeof value;
};
const goValue = (value) => {
  if (value === null || value === undefined) return "<nil>";
  if (typeof value === "object") {
    try {
      return JSON.stringify(value);
    } catch (e) {
      return String(value);
    }
  }
  return String(value);
};
const sprintf = (format, args) => {
  let next = 0;
  let out = format.replace(VERB, (whole, flags, width, precision, verb) => {
    if (verb === "%") return "%";
    if (next >= args.length) return `%!${verb}(MISSING)`;
    const value = args[next++];
    const isNumber = typeof value === "number";
    const bad = () => `%!${verb}(${goType(value)}=${goValue(value)})`;
    let text;
    switch (verb) {
      case "v":
        text = goValue(value);
        break;
      case "s":
        text = typeof value === "string" ? value : bad();
        break;
      case "q":
        text = JSON.stringify(String(value));
        break;
      case "d":
        text = isNumber ? String(Math.trunc(value)) : bad();
        break;
      case "f":
      case "F":
        text = isNumber ? value.toFixed(precision === undefined ? 6 : Number(precision)) : bad();
        break;
      case "e":
        text = isNumber ? value.toExponential(precision === undefined ? 6 : Number(precision)) : bad();
        break;
      case "g":
        text = isNumber ? String(value) : bad();
        break;
      case "x":
      case "X":
        text = isNumber ? Math.trunc(value).toString(16) : bad();
        if (verb === "X") text = text.toUpperCase();
        break;
      case "t":
        text = typeof value === "boolean" ? String(value) : bad();
        break;
      case "c":
        text = isNumber ? String.fromCodePoint(value) : bad();
        break;
      default:
        text = bad();
    }
    if (verb === "s" && precision !== undefined) text = text.slice(0, Number(precision));
    if (isNumber && flags.includes("+") && value >= 0 && "dfFeg".includes(verb)) text = `+${text}`;
    if (width !== undefined && text.length < Number(width)) {
      const size = Number(width);
      if (flags.includes("-")) text = text.padEnd(size);
      else if (flags.includes("0") && isNumber) {
        const sign = text[0] === "-" || text[0] === "+" ? text[0] : "";
        text = sign + text.slice(sign.length).padStart(size - sign.length, "0");
      } else text = text.padStart(size);
    }
    return text;
  });
  if (next < args.length) {
    const extra = args.slice(next).map((value) => `${goType(value)}=${goValue(value)}`);
    out += `%!(EXTRA ${extra.join(", ")})`;
  }
  return out;
};

// --- Argument checks: wrong-typed required arguments throw, as in Gopherbot ---------------
const describe = (value) => (value === null ? "null" : Array.isArray(value) ? "array" : typeof value);
const need = (method, name, value, type) => {
  if (typeof value !== type) {
    throw new TypeError(`${method}: ${name} must be a ${type}, got ${describe(value)}`);
  }
  return value;
};
// A number the robot reads as an integer (Go's int): 2 ** 64 or 1.5 would fail on its way.
const integer = (method, name, value) => {
  need(method, name, value, "number");
  if (!Number.isInteger(value) || value < -(2 ** 63) || value >= 2 ** 63) {
    throw new TypeError(`${method}: ${name} must be an integer from -2^63 to 2^63-1, got ${value}`);
  }
  return value;
};
const maybe = (method, name, value, type, fallback) =>
  value === undefined ? fallback : need(method, name, value, type);
const strings = (method, names, args) =>
  names.map((name, i) => need(method, name, args[i], "string"));
const tail = (method, args, from) =>
  args.slice(from).map((value, i) => need(method, `argument ${from + i + 1}`, value, "string"));
const retval = (value) => (typeof value === "number" ? value : ret.Failed);
const bool = (result, key) => (result ? result[key] === true : false);
const string = (result, key) => (result && typeof result[key] === "string" ? result[key] : "");

// --- Robot ------------------------------------------------------------------------------------
const FIELDS = [
  "user", "user_id", "channel", "channel_id", "thread_id", "message_id", "protocol",
  "brain", "type",
];

class Robot {
  #options = {};

  constructor(gbot) {
    const source = gbot === undefined ? globalThis.GBOT : gbot;
    if (source === null || typeof source !== "object") {
      throw new TypeError("new Robot(): no bot given and no GBOT defined");
    }
    this.gbot = source;
    for (const field of FIELDS) this[field] = typeof source[field] === "string" ? source[field] : "";
    this.type = this.type || "native";
    this.threaded_message = source.threaded_message === true;
  }

  // A new Robot whose later calls carry `changes` in their robot_call options.
  #with(changes) {
    const robot = new Robot(this.gbot);
    for (const field of [...FIELDS, "threaded_message"]) robot[field] = this[field];
    robot.#options = Object.assign({}, this.#options, changes);
    return robot;
  }

  #call(method, args, options) {
    return call(method, args, options || this.#options);
  }

  // Message methods: required strings, then either one number (a MessageFormat, Gopherbot's
  // JavaScript convention) or printf arguments for the message (Gopherbot's Go convention).
  #message(method, names, args) {
    const values = strings(method, names, args);
    const extras = args.slice(names.length);
    let options = this.#options;
    const last = values.length - 1;
    if (extras.length === 1 && typeof extras[0] === "number" && !hasVerb(values[last])) {
      options = Object.assign({}, options, { format: integer(method, "format", extras[0]) });
    } else if (extras.length) {
      values[last] = sprintf(values[last], extras);
    }
    return this.#call(method, values, options);
  }

  #prompt(method, names, args) {
    const result = this.#message(method, names, args);
    return result
      ? { reply: string(result, "reply"), retVal: retval(result.ret_val) }
      : { reply: "", retVal: ret.Failed };
  }

  #attribute(method, args) {
    const result = this.#call(method, args);
    return result
      ? { attribute: string(result, "attribute"), retVal: retval(result.ret_val) }
      : { attribute: "", retVal: ret.AttributeNotFound };
  }

  #pipeline(method, args, fixed) {
    const values = fixed ? strings(method, ["plugin", "command"], args) : [
      need(method, "name", args[0], "string"), ...tail(method, args, 1)];
    const result = this.#call(method, values);
    return result ? retval(result.ret_val) : ret.Failed;
  }

  // Modifiers
  Direct() {
    const robot = this.#with({ direct: true });
    robot.channel = "";
    robot.channel_id = "";
    return robot;
  }
  Threaded() {
    const robot = this.#with({ threaded: true });
    if (robot.channel !== "") robot.threaded_message = true;
    return robot;
  }
  Fixed() { return this.#with({ format: fmt.Fixed }); }
  MessageFormat(format) { return this.#with({ format: integer("MessageFormat", "format", format) }); }

  // Messaging
  Say(...args) { return this.#send("Say", ["message"], args); }
  SayThread(...args) { return this.#send("SayThread", ["message"], args); }
  Reply(...args) { return this.#send("Reply", ["message"], args); }
  ReplyThread(...args) { return this.#send("ReplyThread", ["message"], args); }
  SendChannelMessage(...args) { return this.#send("SendChannelMessage", ["channel", "message"], args); }
  SendChannelThreadMessage(...args) {
    return this.#send("SendChannelThreadMessage", ["channel", "thread", "message"], args);
  }
  SendUserMessage(...args) { return this.#send("SendUserMessage", ["user", "message"], args); }
  SendUserChannelMessage(...args) {
    return this.#send("SendUserChannelMessage", ["user", "channel", "message"], args);
  }
  SendUserChannelThreadMessage(...args) {
    return this.#send("SendUserChannelThreadMessage", ["user", "channel", "thread", "message"], args);
  }
  SendProtocolUserChannelMessage(...args) {
    return this.#send(
      "SendProtocolUserChannelMessage", ["protocol", "user", "channel", "message"], args);
  }
  #send(method, names, args) {
    const result = this.#message(method, names, args);
    return result ? retval(result.ret_val) : ret.Failed;
  }

  // Prompts
  PromptForReply(...args) { return this.#prompt("PromptForReply", ["regex_id", "prompt"], args); }
  PromptThreadForReply(...args) {
    return this.#prompt("PromptThreadForReply", ["regex_id", "prompt"], args);
  }
  PromptUserForReply(...args) {
    return this.#prompt("PromptUserForReply", ["regex_id", "user", "prompt"], args);
  }
  PromptUserChannelForReply(...args) {
    return this.#prompt("PromptUserChannelForReply", ["regex_id", "user", "channel", "prompt"], args);
  }
  PromptUserChannelThreadForReply(...args) {
    return this.#prompt(
      "PromptUserChannelThreadForReply", ["regex_id", "user", "channel", "thread", "prompt"], args);
  }

  // Attributes and identity
  GetBotAttribute(attribute) {
    return this.#attribute("GetBotAttribute", strings("GetBotAttribute", ["attribute"], [attribute]));
  }
  GetUserAttribute(user, attribute) {
    return this.#attribute(
      "GetUserAttribute", strings("GetUserAttribute", ["user", "attribute"], [user, attribute]));
  }
  GetSenderAttribute(attribute) {
    return this.#attribute(
      "GetSenderAttribute", strings("GetSenderAttribute", ["attribute"], [attribute]));
  }
  CheckAdmin() { return bool(this.#call("CheckAdmin", []), "bool"); }
  // The message, as the Go API's GetMessage: Go's field names. User, Channel and Format are
  // this Robot's (Direct() blanks Channel, Fixed() makes Format fmt.Fixed); Incoming is the
  // message as it came in. Protocol is a proto value (-1 unknown).
  GetMessage() {
    const result = this.#call("GetMessage", []);
    const m = result && result.message && typeof result.message === "object" ? result.message : {};
    const text = (key, fallback) => (typeof m[key] === "string" ? m[key] : fallback);
    const name = text("protocol", this.protocol);
    const known = Object.keys(proto).find((key) => key.toLowerCase() === name.toLowerCase());
    const format = this.#options.format !== undefined ? this.#options.format : m.format;
    const channel = text("channel", this.channel);
    return {
      User: this.user,
      ProtocolUser: this.user_id,
      Channel: this.channel,
      ProtocolChannel: this.channel_id,
      Protocol: known === undefined ? -1 : proto[known],
      Format: typeof format === "number" ? format : fmt.Variable,
      Incoming: {
        Protocol: name,
        UserName: text("user", this.user),
        UserID: text("protocol_user", this.user_id),
        ChannelName: channel,
        ChannelID: text("protocol_channel", this.channel_id),
        ThreadID: this.thread_id,
        MessageID: this.message_id,
        ThreadedMessage: this.threaded_message,
        DirectMessage: channel === "",
      },
    };
  }
  Elevate(immediate) {
    return bool(this.#call("Elevate", [maybe("Elevate", "immediate", immediate, "boolean", false)]), "bool");
  }

  // Parameters, configuration, threads, concurrency
  GetParameter(name) { return string(this.#call("GetParameter", strings("GetParameter", ["name"], [name])), "string"); }
  SetParameter(name, value) {
    return bool(this.#call("SetParameter", strings("SetParameter", ["name", "value"], [name, value])), "bool");
  }
  SetWorkingDirectory(path) {
    return bool(this.#call("SetWorkingDirectory", strings("SetWorkingDirectory", ["path"], [path])), "bool");
  }
  GetHelpMetadata(query) {
    return string(this.#call("GetHelpMetadata", strings("GetHelpMetadata", ["query"], [query])), "string");
  }
  GetTaskConfig() {
    const result = this.#call("GetTaskConfig", []);
    if (!result) return { config: null, retVal: ret.Failed };
    return { config: result.config === undefined ? null : result.config, retVal: retval(result.ret_val) };
  }
  Subscribe() { return bool(this.#call("Subscribe", []), "bool"); }
  Unsubscribe() { return bool(this.#call("Unsubscribe", []), "bool"); }
  Exclusive(tag, queue) {
    const args = [need("Exclusive", "tag", tag, "string"), maybe("Exclusive", "queue", queue, "boolean", false)];
    return bool(this.#call("Exclusive", args), "bool");
  }

  // Pipelines
  SpawnJob(...args) { return this.#pipeline("SpawnJob", args, false); }
  AddTask(...args) { return this.#pipeline("AddTask", args, false); }
  FinalTask(...args) { return this.#pipeline("FinalTask", args, false); }
  FailTask(...args) { return this.#pipeline("FailTask", args, false); }
  AddJob(...args) { return this.#pipeline("AddJob", args, false); }
  AddCommand(...args) { return this.#pipeline("AddCommand", args, true); }
  FinalCommand(...args) { return this.#pipeline("FinalCommand", args, true); }
  FailCommand(...args) { return this.#pipeline("FailCommand", args, true); }

  // Short-term memory
  Remember(key, value, shared) { this.#remember("Remember", key, value, shared); }
  RememberThread(key, value, shared) { this.#remember("RememberThread", key, value, shared); }
  RememberContext(context, value) { this.#remember("RememberContext", context, value); }
  RememberContextThread(context, value) { this.#remember("RememberContextThread", context, value); }
  #remember(method, key, value, shared) {
    const values = strings(method, ["key", "value"], [key, value]);
    if (key === "" || value === "") throw new TypeError(`${method}: key and value must not be empty`);
    if (!method.startsWith("RememberContext")) values.push(maybe(method, "shared", shared, "boolean", false));
    this.#call(method, values);
  }
  Recall(key, shared) {
    const args = [need("Recall", "key", key, "string"), maybe("Recall", "shared", shared, "boolean", false)];
    return string(this.#call("Recall", args), "string");
  }
  DeleteMemory(key, shared) {
    const args = [need("DeleteMemory", "key", key, "string"), maybe("DeleteMemory", "shared", shared, "boolean", false)];
    this.#call("DeleteMemory", args);
  }

  // Long-term memory: a memory object {retVal, exists, datum, token, key}
  CheckoutDatum(key, rw) {
    const args = [need("CheckoutDatum", "key", key, "string"), maybe("CheckoutDatum", "rw", rw, "boolean", false)];
    const result = this.#call("CheckoutDatum", args);
    if (!result) return { retVal: ret.Failed, exists: false, datum: {}, token: "", key };
    const exists = result.exists === true && result.datum !== null && result.datum !== undefined;
    return {
      retVal: retval(result.ret_val),
      exists,
      datum: exists ? result.datum : {},
      token: string(result, "lock_token"),
      key,
    };
  }
  UpdateDatum(memory) {
    const [key, token] = this.#memory("UpdateDatum", memory);
    const result = this.#call("UpdateDatum", [key, token, memory.datum === undefined ? null : memory.datum]);
    return result ? retval(result.ret_val) : ret.Failed;
  }
  CheckinDatum(memory) {
    this.#call("CheckinDatum", this.#memory("CheckinDatum", memory));
  }
  #memory(method, memory) {
    if (memory === null || typeof memory !== "object") {
      throw new TypeError(`${method}: expects the memory object CheckoutDatum returned`);
    }
    return strings(method, ["memory.key", "memory.token"], [memory.key, memory.token]);
  }
  DeleteDatum(key) {
    const result = this.#call("DeleteDatum", strings("DeleteDatum", ["key"], [key]));
    return result ? retval(result.ret_val) : ret.Failed;
  }

  // Secrets and identity
  EncryptSecret(plaintext) {
    const result = this.#call("EncryptSecret", strings("EncryptSecret", ["plaintext"], [plaintext]));
    return result
      ? { ciphertext: string(result, "ciphertext"), retVal: retval(result.ret_val) }
      : { ciphertext: "", retVal: ret.Failed };
  }
  GetIdentityCredential(provider, user) {
    const args = strings("GetIdentityCredential", ["provider", "user"], [provider, user]);
    const result = this.#call("GetIdentityCredential", args);
    if (!result) return { credential: null, retVal: ret.Failed };
    const c = result.credential;
    const credential = c && typeof c === "object" ? {
      type: c.type, value: c.value, scheme: c.scheme, headerName: c.header_name,
      headerValue: c.header_value, expiresAt: c.expires_at, metadata: c.metadata,
    } : null;
    return { credential, retVal: retval(result.ret_val) };
  }
  LinkOAuth2Identity(request) {
    if (request === null || typeof request !== "object" || Array.isArray(request)) {
      throw new TypeError(`LinkOAuth2Identity: request must be an object, got ${describe(request)}`);
    }
    const result = this.#call("LinkOAuth2Identity", [request]);
    return result ? retval(result.ret_val) : ret.Failed;
  }
  UnlinkIdentity(provider, user) {
    const args = strings("UnlinkIdentity", ["provider", "user"], [provider, user]);
    const result = this.#call("UnlinkIdentity", args);
    return result ? retval(result.ret_val) : ret.Failed;
  }

  // Email, sent by the robot through its MailConfig server; html true sends the body as HTML
  Email(subject, body, html) {
    const args = strings("Email", ["subject", "body"], [subject, body]);
    const result = this.#call("Email", [...args, maybe("Email", "html", html, "boolean", false)]);
    return result ? retval(result.ret_val) : ret.Failed;
  }
  EmailUser(user, subject, body, html) {
    const args = strings("EmailUser", ["user", "subject", "body"], [user, subject, body]);
    const result = this.#call(
      "EmailUser", [...args, maybe("EmailUser", "html", html, "boolean", false)]);
    return result ? retval(result.ret_val) : ret.Failed;
  }
  EmailAddress(address, subject, body, html) {
    const args = strings("EmailAddress", ["address", "subject", "body"], [address, subject, body]);
    const result = this.#call(
      "EmailAddress", [...args, maybe("EmailAddress", "html", html, "boolean", false)]);
    return result ? retval(result.ret_val) : ret.Failed;
  }

  // Utilities
  RandomInt(n) {
    const result = this.#call("RandomInt", [integer("RandomInt", "n", n)]);
    return result && typeof result.int === "number" ? result.int : 0;
  }
  RandomString(choices) {
    if (!Array.isArray(choices)) {
      throw new TypeError(`RandomString: choices must be an array, got ${describe(choices)}`);
    }
    const values = choices.map((value, i) => need("RandomString", `choices[${i}]`, value, "string"));
    return string(this.#call("RandomString", [values]), "string");
  }
  Pause(seconds) { this.#call("Pause", [need("Pause", "seconds", seconds, "number")]); }
  Log(level, message, ...args) {
    integer("Log", "level", level);
    need("Log", "message", message, "string");
    this.#call("Log", [level, args.length ? sprintf(message, args) : message]);
  }
}

module.exports = function gopherbot() {
  return { Robot, ret, task, log, fmt, proto };
};
