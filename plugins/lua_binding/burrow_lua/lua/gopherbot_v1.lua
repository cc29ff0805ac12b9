--------------------------------------------------------------------------------
-- gopherbot_v1.lua: Gopherbot's v1 Lua extension library, as Burrow serves it.
--
--   local gopherbot = require "gopherbot_v1"      -- or require "burrow"
--   local ret, task, log, fmt, proto, Robot =
--       gopherbot.ret, gopherbot.task, gopherbot.log, gopherbot.fmt, gopherbot.proto,
--       gopherbot.Robot
--   local bot = Robot:new()
--   bot:Say("Hello, %s!", bot.user)
--
-- Every Robot method is one `robot_call` to the robot (docs/lua.md lists them with their
-- arguments, results and Lua return values). Loaded by the sandbox with the bridge `call`;
-- `require` is the only way in.
--------------------------------------------------------------------------------

local call = ...
if call == nil then
    error("gopherbot_v1 is provided by the robot: load it with require \"gopherbot_v1\"", 2)
end

local error, getmetatable, ipairs, pairs, pcall, rawget, select, setmetatable, tostring, type =
    error, getmetatable, ipairs, pairs, pcall, rawget, select, setmetatable, tostring, type
local tointeger, unpack, utf8_len = math.tointeger, table.unpack, utf8.len
local find, gsub, sformat = string.find, string.gsub, string.format

local M = {}

--------------------------------------------------------------------------------
-- Constants (values as robot/robot_constants.go), each with :string(value).

local function enum(values, unknown)
    local names = {}
    for name, value in pairs(values) do
        names[value] = name
    end
    -- Upstream scripts call ret:string(v); ret.string(v) works as well.
    values.string = function(self, value)
        if self ~= values then
            value = self
        end
        return names[value] or unknown
    end
    return values
end

M.ret = enum({
    Ok = 0,
    UserNotFound = 1,
    ChannelNotFound = 2,
    AttributeNotFound = 3,
    FailedMessageSend = 4,
    FailedChannelJoin = 5,
    DatumNotFound = 6,
    DatumLockExpired = 7,
    DataFormatError = 8,
    BrainFailed = 9,
    InvalidDatumKey = 10,
    InvalidConfigPointer = 11,
    ConfigUnmarshalError = 12,
    NoConfigFound = 13,
    RetryPrompt = 14,
    ReplyNotMatched = 15,
    UseDefaultValue = 16,
    TimeoutExpired = 17,
    Interrupted = 18,
    MatcherNotFound = 19,
    NoUserEmail = 20,
    NoBotEmail = 21,
    MailError = 22,
    TaskNotFound = 23,
    MissingArguments = 24,
    InvalidStage = 25,
    InvalidTaskType = 26,
    CommandNotMatched = 27,
    TaskDisabled = 28,
    PrivilegeViolation = 29,
    IdentityProviderNotFound = 30,
    IdentityNotLinked = 31,
    IdentityReauthRequired = 32,
    IdentityRefreshFailed = 33,
    IdentityInvalidLinkRequest = 34,
    IdentityConfigError = 35,
    Failed = 63,
}, "UnknownRetVal")

M.task = enum({
    Normal = 0,
    Fail = 1,
    MechanismFail = 2,
    ConfigurationError = 3,
    PipelineAborted = 4,
    RobotStopping = 5,
    NotFound = 6,
    Success = 7,
}, "UnknownTaskRetVal")

M.log = enum({
    Trace = 0,
    Debug = 1,
    Info = 2,
    Audit = 3,
    Warn = 4,
    Error = 5,
    Fatal = 6,
}, "UnknownLogLevel")

M.fmt = enum({
    Raw = 0,
    Fixed = 1,
    Variable = 2,
    BasicMarkdown = 3,
}, "UnknownMessageFormat")

-- The Go values (robot.Protocol), not upstream Lua's stale table; bot.protocol itself is the
-- lowercase protocol name ("slack", "test"...). See docs/lua.md, "Differences".
M.proto = enum({
    Slack = 0,
    GoogleChat = 1,
    Rocket = 2,
    Terminal = 3,
    Test = 4,
    Null = 5,
    SSH = 6,
}, "UnknownProtocol")

local Ok, Failed, AttributeNotFound = M.ret.Ok, M.ret.Failed, M.ret.AttributeNotFound

--------------------------------------------------------------------------------
-- Argument checks. `level` is the error level of the extension's call site.

local function text(value, method, position, level)
    local kind = type(value)
    if kind == "string" then
        return value
    elseif kind == "number" then
        return tostring(value)
    end
    error(sformat("%s: argument #%d must be a string, got %s", method, position, kind), level + 1)
end

local function integer(value, method, position, level)
    local n = type(value) == "number" and tointeger(value)
    if not n then
        error(sformat("%s: argument #%d must be an integer, got %s", method, position,
            type(value) == "number" and tostring(value) or type(value)), level + 1)
    end
    return n
end

local function message_format(value, method, level)
    if value == nil then
        return nil
    end
    local n = type(value) == "number" and tointeger(value)
    if not n or M.fmt:string(n) == "UnknownMessageFormat" then
        error(sformat("%s: %s is not a message format (see gopherbot.fmt)", method,
            tostring(value)), level + 1)
    end
    return n
end

local function flag(value)
    return value and true or false
end

--------------------------------------------------------------------------------
-- The Robot class.

---@class Robot
local Robot = {}
Robot.__index = Robot

-- Modifier options by Robot object; weak, and out of reach of the extension's tables.
local options_of = setmetatable({}, { __mode = "k" })

local FIELDS = { "user", "user_id", "channel", "channel_id", "thread_id", "message_id",
    "protocol", "brain" }

---Create a Robot for the current message from `gbot` (default: the global GBOT).
function Robot.new(class, gbot)
    -- Robot:new(g) is the documented form; tolerate Robot.new(g) as well.
    if type(class) ~= "table" or rawget(class, "__index") == nil then
        class, gbot = Robot, class
    end
    local source = gbot or GBOT
    if type(source) ~= "table" then
        error("Robot:new: no bot object given, and no global GBOT", 2)
    end
    local o = { gbot = source, type = "native", threaded_message = source.threaded_message == true }
    for _, field in ipairs(FIELDS) do
        o[field] = source[field] or ""
    end
    options_of[o] = options_of[source]
    return setmetatable(o, class)
end

-- A new Robot like `self` with one more option set and some fields changed.
local function derive(self, option, value, changes)
    local fields = { threaded_message = self.threaded_message }
    for _, field in ipairs(FIELDS) do
        fields[field] = self[field]
    end
    for k, v in pairs(changes or {}) do
        fields[k] = v
    end
    local class = getmetatable(self)
    local o = Robot.new(type(class) == "table" and class or Robot, fields)
    local options = {}
    for k, v in pairs(options_of[self] or {}) do
        options[k] = v
    end
    options[option] = value
    options_of[o] = options
    return o
end

---A Robot whose messages go to the user directly (channel blanked).
function Robot:Direct()
    return derive(self, "direct", true, { channel = "", channel_id = "" })
end

---A Robot whose messages go to the message's thread.
function Robot:Threaded()
    return derive(self, "threaded", true, self.channel ~= "" and { threaded_message = true } or nil)
end

---A Robot whose messages use the Fixed format.
function Robot:Fixed()
    return derive(self, "format", M.fmt.Fixed)
end

---A Robot whose messages use format `f` (gopherbot.fmt).
function Robot:MessageFormat(f)
    return derive(self, "format", message_format(f, "MessageFormat", 2))
end

-- One robot call with this Robot's options; nil when the call failed (the bridge logged why).
-- Errors are raised at level 3: invoke, the public method, then the extension's call site.
local function invoke(self, method, format, ...)
    for i = 1, select("#", ...) do
        local arg = select(i, ...)
        if type(arg) == "string" and not utf8_len(arg) then
            error(sformat("%s: argument #%d is not valid UTF-8", method, i), 3)
        end
    end
    local direct, threaded, fmt
    local options = options_of[self]
    if options then
        direct, threaded, fmt = options.direct, options.threaded, options.format
    end
    if format ~= nil then
        fmt = format
    end
    local ok, result = call(method, direct, threaded, fmt, ...)
    if ok == nil then
        error(sformat("%s: %s", method, tostring(result)), 3)
    end
    return ok and result or nil
end

-- Whether `message` has a string.format conversion (%d, %s, %-5.2f...; %% is not one). The
-- space flag is left out on purpose: "50% done" is prose, not a conversion.
local function has_conversion(message)
    local stripped = gsub(message, "%%%%", "")
    return find(stripped, "%%[-+#0]*%d*%.?%d*[aAcdeEfgGioqsuxX]") ~= nil
end

-- Send and prompt methods: `count` leading strings, the last being the message. Arguments
-- after it are printf arguments when the message has a conversion (string.format), else the
-- optional message format of upstream's `Say(msg, fmt)`.
local function messaging(method, count, results)
    return function(self, ...)
        local n = select("#", ...)
        local args = { ... }
        for i = 1, count do
            args[i] = text(args[i], method, i, 2)
        end
        local format
        if n > count then
            if has_conversion(args[count]) then
                local ok, formatted = pcall(sformat, args[count], unpack(args, count + 1, n))
                if not ok then
                    error(sformat("%s: %s", method, formatted), 2)
                end
                args[count] = formatted
            elseif n > count + 1 then
                error(sformat("%s: %d arguments after the message, which has no %% conversion "
                    .. "to use them", method, n - count), 2)
            else
                format = message_format(args[count + 1], method, 2)
            end
        end
        return results(invoke(self, method, format, unpack(args, 1, count)))
    end
end

local function ret_val(result)
    if result and result.ret_val ~= nil then
        return result.ret_val
    end
    return Failed
end

local function reply(result)
    if result and result.ret_val ~= nil then
        return result.reply or "", result.ret_val
    end
    return "", Failed
end

Robot.SendChannelMessage = messaging("SendChannelMessage", 2, ret_val)
Robot.SendChannelThreadMessage = messaging("SendChannelThreadMessage", 3, ret_val)
Robot.SendUserMessage = messaging("SendUserMessage", 2, ret_val)
Robot.SendUserChannelMessage = messaging("SendUserChannelMessage", 3, ret_val)
Robot.SendUserChannelThreadMessage = messaging("SendUserChannelThreadMessage", 4, ret_val)
Robot.SendProtocolUserChannelMessage = messaging("SendProtocolUserChannelMessage", 4, ret_val)
Robot.Say = messaging("Say", 1, ret_val)
Robot.SayThread = messaging("SayThread", 1, ret_val)
Robot.Reply = messaging("Reply", 1, ret_val)
Robot.ReplyThread = messaging("ReplyThread", 1, ret_val)

Robot.PromptForReply = messaging("PromptForReply", 2, reply)
Robot.PromptThreadForReply = messaging("PromptThreadForReply", 2, reply)
Robot.PromptUserForReply = messaging("PromptUserForReply", 3, reply)
Robot.PromptUserChannelForReply = messaging("PromptUserChannelForReply", 4, reply)
Robot.PromptUserChannelThreadForReply = messaging("PromptUserChannelThreadForReply", 5, reply)

local function bool(result)
    return result and result.bool == true or false
end

local function str(result)
    return result and result.string or ""
end

--------------------------------------------------------------------------------
-- Short-term memory.

local function remember(method)
    return function(self, key, value, shared)
        key, value = text(key, method, 1, 2), text(value, method, 2, 2)
        if key == "" then
            error(method .. ": the key must not be empty", 2)
        end
        invoke(self, method, nil, key, value, flag(shared))
    end
end

local function remember_context(method)
    return function(self, context, value)
        context, value = text(context, method, 1, 2), text(value, method, 2, 2)
        if context == "" then
            error(method .. ": the context must not be empty", 2)
        end
        invoke(self, method, nil, context, value)
    end
end

Robot.Remember = remember("Remember")
Robot.RememberThread = remember("RememberThread")
Robot.RememberContext = remember_context("RememberContext")
Robot.RememberContextThread = remember_context("RememberContextThread")

function Robot:Recall(key, shared)
    return str(invoke(self, "Recall", nil, text(key, "Recall", 1, 2), flag(shared)))
end

function Robot:DeleteMemory(key, shared)
    invoke(self, "DeleteMemory", nil, text(key, "DeleteMemory", 1, 2), flag(shared))
end

--------------------------------------------------------------------------------
-- Parameters and pipelines.

function Robot:GetParameter(name)
    return str(invoke(self, "GetParameter", nil, text(name, "GetParameter", 1, 2)))
end

function Robot:SetParameter(name, value)
    name, value = text(name, "SetParameter", 1, 2), text(value, "SetParameter", 2, 2)
    return bool(invoke(self, "SetParameter", nil, name, value))
end

function Robot:SetWorkingDirectory(path)
    local dir = text(path, "SetWorkingDirectory", 1, 2)
    return bool(invoke(self, "SetWorkingDirectory", nil, dir))
end

function Robot:Subscribe()
    return bool(invoke(self, "Subscribe", nil))
end

function Robot:Unsubscribe()
    return bool(invoke(self, "Unsubscribe", nil))
end

function Robot:Exclusive(tag, queue_task)
    return bool(invoke(self, "Exclusive", nil, text(tag, "Exclusive", 1, 2), flag(queue_task)))
end

-- name, then any number of string arguments (numbers are converted, like Lua's `..`).
local function pipeline(method)
    return function(self, name, ...)
        local args = { text(name, method, 1, 2) }
        for i = 1, select("#", ...) do
            args[i + 1] = text((select(i, ...)), method, i + 1, 2)
        end
        return ret_val(invoke(self, method, nil, unpack(args)))
    end
end

local function command(method)
    return function(self, plugin, cmd)
        plugin, cmd = text(plugin, method, 1, 2), text(cmd, method, 2, 2)
        return ret_val(invoke(self, method, nil, plugin, cmd))
    end
end

Robot.SpawnJob = pipeline("SpawnJob")
Robot.AddTask = pipeline("AddTask")
Robot.FinalTask = pipeline("FinalTask")
Robot.FailTask = pipeline("FailTask")
Robot.AddJob = pipeline("AddJob")
Robot.AddCommand = command("AddCommand")
Robot.FinalCommand = command("FinalCommand")
Robot.FailCommand = command("FailCommand")

--------------------------------------------------------------------------------
-- Attributes.

local function attribute(result)
    if result and result.ret_val ~= nil then
        return result.attribute or "", result.ret_val
    end
    return "", AttributeNotFound
end

function Robot:GetBotAttribute(attr)
    return attribute(invoke(self, "GetBotAttribute", nil, text(attr, "GetBotAttribute", 1, 2)))
end

function Robot:GetUserAttribute(user, attr)
    user, attr = text(user, "GetUserAttribute", 1, 2), text(attr, "GetUserAttribute", 2, 2)
    return attribute(invoke(self, "GetUserAttribute", nil, user, attr))
end

function Robot:GetSenderAttribute(attr)
    local name = text(attr, "GetSenderAttribute", 1, 2)
    return attribute(invoke(self, "GetSenderAttribute", nil, name))
end

-- Protocol names as the robot reports them, to Gopherbot's values (gopherbot.proto).
local PROTOCOLS = { slack = "Slack", googlechat = "GoogleChat", rocket = "Rocket",
    terminal = "Terminal", test = "Test", null = "Null", ssh = "SSH" }

---The message, as the Go API's GetMessage: a table with Go's field names. User, Channel and
---Format are this Robot's (Direct() blanks Channel, Fixed() makes Format fmt.Fixed);
---Incoming is the message as it came in. Protocol is a gopherbot.proto value (-1 unknown).
function Robot:GetMessage()
    local result = invoke(self, "GetMessage", nil)
    local m = type(result) == "table" and type(result.message) == "table" and result.message or {}
    local name = type(m.protocol) == "string" and m.protocol or self.protocol
    local options = options_of[self]
    local format = options and options.format or m.format
    local channel = m.channel or self.channel
    return {
        User = self.user,
        ProtocolUser = self.user_id,
        Channel = self.channel,
        ProtocolChannel = self.channel_id,
        Protocol = M.proto[PROTOCOLS[name:lower()] or ""] or -1,
        Format = type(format) == "number" and format or M.fmt.Variable,
        Incoming = {
            Protocol = name,
            UserName = m.user or self.user,
            UserID = m.protocol_user or self.user_id,
            ChannelName = channel,
            ChannelID = m.protocol_channel or self.channel_id,
            ThreadID = self.thread_id,
            MessageID = self.message_id,
            ThreadedMessage = self.threaded_message == true,
            DirectMessage = channel == "",
        },
    }
end

--------------------------------------------------------------------------------
-- Long-term memory. A memory is {key, exists, datum, token, retVal}.

local function memory_argument(memory, method)
    if type(memory) ~= "table" or type(memory.key) ~= "string"
        or type(memory.token) ~= "string" then
        error(method .. " needs the memory returned by CheckoutDatum (with key and token)", 3)
    end
    return memory.key, memory.token
end

---Check out datum `key`; `rw` true to lock it for UpdateDatum. Returns memory, retVal.
function Robot:CheckoutDatum(key, rw)
    key = text(key, "CheckoutDatum", 1, 2)
    local result = invoke(self, "CheckoutDatum", nil, key, flag(rw))
    local ret = ret_val(result)
    local datum = result and result.datum
    local memory = {
        key = key,
        exists = ret == Ok and result.exists == true,
        datum = datum == nil and {} or datum,
        token = result and result.lock_token or "",
        retVal = ret,
    }
    return memory, ret
end

function Robot:UpdateDatum(memory)
    local key, token = memory_argument(memory, "UpdateDatum")
    return ret_val(invoke(self, "UpdateDatum", nil, key, token, memory.datum))
end

function Robot:CheckinDatum(memory)
    local key, token = memory_argument(memory, "CheckinDatum")
    invoke(self, "CheckinDatum", nil, key, token)
end

function Robot:DeleteDatum(key)
    return ret_val(invoke(self, "DeleteDatum", nil, text(key, "DeleteDatum", 1, 2)))
end

--------------------------------------------------------------------------------
-- Configuration, identity and secrets.

---The task's Config, as a table. Returns config (nil on failure), retVal.
function Robot:GetTaskConfig()
    local result = invoke(self, "GetTaskConfig", nil)
    if result and result.ret_val ~= nil then
        return result.config, result.ret_val
    end
    return nil, Failed
end

function Robot:GetIdentityCredential(provider, user)
    provider = text(provider, "GetIdentityCredential", 1, 2)
    user = text(user, "GetIdentityCredential", 2, 2)
    local result = invoke(self, "GetIdentityCredential", nil, provider, user)
    if result and result.ret_val ~= nil then
        return result.credential, result.ret_val
    end
    return nil, Failed
end

function Robot:LinkOAuth2Identity(request)
    if type(request) ~= "table" then
        error("LinkOAuth2Identity: argument #1 must be a table, got " .. type(request), 2)
    end
    return ret_val(invoke(self, "LinkOAuth2Identity", nil, request))
end

function Robot:UnlinkIdentity(provider, user)
    provider, user = text(provider, "UnlinkIdentity", 1, 2), text(user, "UnlinkIdentity", 2, 2)
    return ret_val(invoke(self, "UnlinkIdentity", nil, provider, user))
end

---The help of the commands the user may run, as JSON text ("" when the call fails).
function Robot:GetHelpMetadata(query)
    return str(invoke(self, "GetHelpMetadata", nil, text(query or "", "GetHelpMetadata", 1, 2)))
end

function Robot:EncryptSecret(plaintext)
    local result = invoke(self, "EncryptSecret", nil, text(plaintext, "EncryptSecret", 1, 2))
    if result and result.ret_val ~= nil then
        return result.ciphertext or "", result.ret_val
    end
    return "", Failed
end

--------------------------------------------------------------------------------
-- Email, sent by the robot through its MailConfig server. `html` true sends `body` as HTML.

---Email the user who sent the message. Returns retVal.
function Robot:Email(subject, body, html)
    subject, body = text(subject, "Email", 1, 2), text(body, "Email", 2, 2)
    return ret_val(invoke(self, "Email", nil, subject, body, flag(html)))
end

---Email `user` at the address of their email attribute. Returns retVal.
function Robot:EmailUser(user, subject, body, html)
    user, subject = text(user, "EmailUser", 1, 2), text(subject, "EmailUser", 2, 2)
    body = text(body, "EmailUser", 3, 2)
    return ret_val(invoke(self, "EmailUser", nil, user, subject, body, flag(html)))
end

---Email `address` (or, without "@", the user of that name). Returns retVal.
function Robot:EmailAddress(address, subject, body, html)
    address, subject = text(address, "EmailAddress", 1, 2), text(subject, "EmailAddress", 2, 2)
    body = text(body, "EmailAddress", 3, 2)
    return ret_val(invoke(self, "EmailAddress", nil, address, subject, body, flag(html)))
end

--------------------------------------------------------------------------------
-- Utilities and the robot's log.

function Robot:RandomInt(n)
    local result = invoke(self, "RandomInt", nil, integer(n, "RandomInt", 1, 2))
    return result and result.int or 0
end

---A random element of `array` ("" when it is empty).
function Robot:RandomString(array)
    if type(array) ~= "table" then
        error("RandomString: argument #1 must be an array of strings, got " .. type(array), 2)
    end
    local strings = {}
    for i, value in ipairs(array) do
        strings[i] = text(value, "RandomString", 1, 2)
    end
    if #strings == 0 then
        return "" -- as the robot answers; an empty table would not even travel as a list
    end
    return str(invoke(self, "RandomString", nil, strings))
end

function Robot:Pause(seconds)
    if type(seconds) ~= "number" then
        error("Pause: argument #1 must be a number of seconds, got " .. type(seconds), 2)
    end
    invoke(self, "Pause", nil, seconds + 0.0)
end

function Robot:CheckAdmin()
    return bool(invoke(self, "CheckAdmin", nil))
end

function Robot:Elevate(immediate)
    return bool(invoke(self, "Elevate", nil, flag(immediate)))
end

---Log `message` at `level` (gopherbot.log); extra arguments format it like string.format.
function Robot:Log(level, message, ...)
    level, message = integer(level, "Log", 1, 2), text(message, "Log", 2, 2)
    if select("#", ...) > 0 then
        local ok, formatted = pcall(sformat, message, ...)
        if not ok then
            error("Log: " .. formatted, 2)
        end
        message = formatted
    end
    invoke(self, "Log", nil, level, message)
end

M.Robot = Robot

return M
