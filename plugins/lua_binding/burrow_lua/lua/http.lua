-- http.lua: upstream Gopherbot's Lua `http` module (gluahttp's interface), as
-- require("http") returns it. Loaded by sandbox.lua with:
--   fetch   fetch(method, url, query, header_ops, body, body_is_hex, timeout): the response
--           table, or nil and the error (burrow_lua/http.py; a Python function)
-- Options are read as gluahttp reads them (rawget: no metamethod runs), checked, and passed on
-- as plain strings; what each means is in docs/lua.md ("http").
--
--   local http = require("http")
--   local response, err = http.get(url, { headers = { Accept = "application/json" },
--                                         timeout = "10s" })
--   if err then ... end   -- the request failed: no response at all
--   if response.status_code >= 400 then ... end

local fetch = ...

local error, next, rawget, tostring, type = error, next, rawget, tostring, type
local format, utf8_len = string.format, utf8.len

-- Each byte as two hex digits: a body that is not UTF-8 text cannot cross to Python as a string.
local HEX = {}
for byte = 0, 255 do
    HEX[string.char(byte)] = format("%02x", byte)
end

local function fail(message)
    error(message, 0) -- caught in request(): returned as nil, message
end

-- A string, number or boolean as text (gluahttp's LValue.String()); anything else is refused.
local function text(value, what)
    local kind = type(value)
    if kind == "string" then
        if not utf8_len(value) then
            fail(format("%s must be valid UTF-8 text", what))
        end
        return value
    end
    if kind == "number" or kind == "boolean" then
        return tostring(value)
    end
    fail(format("%s must be a string, got %s", what, kind))
end

-- The pairs of a table option, raw (no __pairs), as `kind`, name, value triples in `ops`.
local function add_pairs(ops, kind, option, value)
    if value == nil then
        return
    end
    if type(value) ~= "table" then
        fail(format("%s must be a table, got %s", option, type(value)))
    end
    for name, item in next, value do
        local key = text(name, option .. " names")
        ops[#ops + 1] = kind
        ops[#ops + 1] = key
        ops[#ops + 1] = text(item, format("%s[%q]", option, key))
    end
end

-- gluahttp's order: cookies, the form's Content-Type, basic auth, then headers, set last so
-- that nothing above overrides them.
local function read_options(options)
    local ops, query, body, hex, timeout = {}, nil, nil, false, nil
    if options == nil then
        return ops, query, body, hex, timeout
    end
    if type(options) ~= "table" then
        fail("options must be a table, got " .. type(options))
    end
    add_pairs(ops, "cookie", "cookies", rawget(options, "cookies"))
    query = rawget(options, "query")
    if query ~= nil then
        if type(query) ~= "string" then
            fail("query must be a URL-encoded string, got " .. type(query))
        end
        query = text(query, "query")
    end
    body = rawget(options, "body")
    if body ~= nil and type(body) ~= "string" then
        fail("body must be a string, got " .. type(body))
    end
    if body == nil then
        -- "form" is gluahttp's older name for a URL-encoded body.
        body = rawget(options, "form")
        if body ~= nil then
            if type(body) ~= "string" then
                fail("form must be a URL-encoded string, got " .. type(body))
            end
            ops[#ops + 1] = "set"
            ops[#ops + 1] = "Content-Type"
            ops[#ops + 1] = "application/x-www-form-urlencoded"
        end
    end
    if body ~= nil and not utf8_len(body) then
        body, hex = body:gsub(".", HEX), true
    end
    timeout = rawget(options, "timeout")
    if timeout ~= nil and type(timeout) ~= "number" and type(timeout) ~= "string" then
        fail("timeout must be a number of seconds or a duration string such as \"10s\", got "
            .. type(timeout))
    end
    if type(timeout) == "string" then
        timeout = text(timeout, "timeout")
    end
    local auth = rawget(options, "auth")
    if auth ~= nil then
        if type(auth) ~= "table" then
            fail("auth must be a table, got " .. type(auth))
        end
        local user, pass = rawget(auth, "user"), rawget(auth, "pass")
        if not user or not pass then
            fail("auth table must contain no nil user and pass fields")
        end
        ops[#ops + 1] = "auth"
        ops[#ops + 1] = text(user, "auth.user")
        ops[#ops + 1] = text(pass, "auth.pass")
    end
    add_pairs(ops, "set", "headers", rawget(options, "headers"))
    return ops, query, body, hex, timeout
end

local function attempt(method, url, options)
    method = method == nil and "" or text(method, "the method")
    url = url == nil and "" or text(url, "the url")
    local ops, query, body, hex, timeout = read_options(options)
    return fetch(method, url, query, ops, body, hex, timeout)
end

-- response, or nil and the error: a failed request never raises.
local function request(method, url, options)
    local ok, response, err = pcall(attempt, method, url, options)
    if not ok then
        if type(response) ~= "string" then
            error(response, 0) -- not an options error (a cancel): let it through
        end
        return nil, response
    end
    return response, err
end

local http = {}

for _, name in ipairs({ "get", "delete", "head", "patch", "post", "put" }) do
    local method = name:upper()
    http[name] = function(url, options)
        return request(method, url, options)
    end
end

http.request = request

-- Each item is {method, url, options}. Answers the responses, and when any request failed,
-- a second table with each failed request's error at its position (responses there are nil).
function http.request_batch(requests)
    if type(requests) ~= "table" then
        return nil, "requests must be a table, got " .. type(requests)
    end
    local responses, errors, failed = {}, {}, false
    for i = 1, #requests do
        local item = rawget(requests, i)
        local response, err
        if type(item) == "table" then
            response, err = request(rawget(item, 1), rawget(item, 2), rawget(item, 3))
        else
            err = "Request must be a table"
        end
        responses[i], errors[i] = response, err
        failed = failed or err ~= nil
    end
    if failed then
        return responses, errors
    end
    return responses
end

return http
