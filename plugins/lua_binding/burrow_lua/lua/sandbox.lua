-- sandbox.lua: prepares a fresh Lua state for one extension, then returns its start.
--
-- Called once per Lua state by burrow_lua.runtime (in a spare child before any request
-- arrives, else at the request) with what no request changes:
--   call      the Robot API bridge (a Python function; kept in upvalues, never in a global)
--   log       log(level, message) into the task log (a Python function, likewise)
--   codec     codec("encode"|"decode", value) for the json module (likewise)
--   lib_dir   the folder of this file, holding gopherbot_v1.lua
--   read      read(filename) -> source or nil, why: the file's Lua source, once its real path
--             (links resolved) is found inside a readable folder (a Python function)
--   find      find(name, path) -> filename or nil, tried: package.searchpath without opening
--             the candidates, so a FIFO cannot block it (a Python function)
--   fetch     the http module's request (burrow_lua/http.py through the bridge; likewise)
-- It returns start(gbot, path, readable), called once, at the request, with:
--   gbot      the bot fields of the message (a table, becomes GBOT)
--   path      package.path built from the request's lib_paths
--   readable  the folders whose files the loaders may read (the script's own and lib_paths)
-- which returns the runner of the extension.
--
-- What an extension can and cannot reach is documented in docs/lua.md ("Sandbox"). The
-- originals this file takes away are kept only in locals, which no extension can reach
-- once `debug` is gone.

local call, log, codec, lib_dir, read, find, fetch = ...

local raw_load, raw_loadfile = load, loadfile
local assert, error, getmetatable, require = assert, error, getmetatable, require
local select, tostring, type, xpcall = select, tostring, type, xpcall
local concat, utf8_len = table.concat, utf8.len
local format, sub = string.format, string.sub
local getinfo, traceback, getregistry = debug.getinfo, debug.traceback, debug.getregistry
local preload_searcher = package.searchers[1]

-- Lupa's metatable for Python objects: lock it, so that even a Python object that reached
-- Lua by mistake offers neither its metatable nor its __gc to an extension.
local pobject = getregistry().POBJECT
if pobject then
    pobject.__metatable = false
end

-- The wire carries UTF-8 only: replace each invalid byte (U+FFFD) rather than fail on a
-- log line or an error message.
local function clean(s)
    local parts, start = {}, 1
    while true do
        local valid, bad = utf8_len(s, start)
        if valid then
            break
        end
        parts[#parts + 1] = sub(s, start, bad - 1) .. "\u{FFFD}"
        start = bad + 1
    end
    if start == 1 then
        return s
    end
    parts[#parts + 1] = sub(s, start)
    return concat(parts)
end

---------------------------------------------------------------------------------------------
-- Loading code: text only, and only from the extension's own folder and the robot's lib
-- paths. Binary chunks bypass the compiler's checks and can crash the VM; and a loader that
-- reads any path would be a way around the missing `io` (a parse error quotes the file). The
-- name must lie in a readable folder here, and `read` checks the real path (a link inside a
-- lib path may point anywhere) before it reads: Lua's own loadfile would follow the link.

local readable_dirs = {} -- filled by start()

local function check_readable(filename)
    if type(filename) ~= "string" then
        return nil, "a file name is required (reading standard input is not allowed)"
    end
    if sub(filename, 1, 1) == "/" and not ("/" .. filename .. "/"):find("/%.%./")
        and utf8_len(filename) then
        for i = 1, #readable_dirs do
            local dir = readable_dirs[i]
            if sub(filename, 1, #dir + 1) == dir .. "/" then
                return filename
            end
        end
    end
    return nil, format(
        "cannot read '%s': extensions may load only files in their own folder or the robot's"
            .. " lib paths, by absolute path",
        clean(tostring(filename))
    )
end

-- The chunk of a readable file, compiled as text; nil and the reason otherwise.
local function load_file(filename, with_env, env)
    local allowed, refusal = check_readable(filename)
    if not allowed then
        return nil, refusal
    end
    local source, err = read(allowed)
    if not source then
        return nil, err
    end
    if with_env then
        return raw_load(source, "@" .. allowed, "t", env)
    end
    return raw_load(source, "@" .. allowed, "t")
end

function load(chunk, name, mode, ...)
    -- An explicit nil environment is not the same as none, so keep the arity.
    if select("#", ...) > 0 then
        return raw_load(chunk, name, "t", (...))
    end
    return raw_load(chunk, name, "t")
end

function loadfile(filename, mode, ...)
    return load_file(filename, select("#", ...) > 0, (...))
end

function dofile(filename)
    local chunk, err = load_file(filename)
    if not chunk then
        error(err, 2)
    end
    return chunk()
end

-- Lua 5.1 names, as gopher-lua (upstream Gopherbot's Lua) offers them.
loadstring = load
unpack = table.unpack

string.dump = nil

---------------------------------------------------------------------------------------------
-- Modules: the request's lib_paths, text files only, no C modules.

local function lua_searcher(name)
    local search = package.path
    if search == "" then
        return "no lib_paths in this execution (package.path is empty)"
    end
    if type(search) ~= "string" or not utf8_len(search) then
        return "package.path must be a UTF-8 string"
    end
    if type(name) ~= "string" or not utf8_len(name) then
        return "the module name must be a UTF-8 string"
    end
    local filename, tried = find(name, search, ".", "/")
    if not filename then
        return tried
    end
    local chunk, err = load_file(filename)
    if not chunk then
        if sub(err, 1, 12) == "cannot read " then
            error(format("module '%s': %s", name, err), 3) -- a refusal, on the first line
        end
        error(format("error loading module '%s' from file '%s':\n\t%s", name, filename, err), 3)
    end
    return chunk, filename
end

-- Lua's own searchpath opens each candidate to see if it is there, which blocks on a FIFO.
function package.searchpath(name, search, sep, rep)
    local args = { name, search, sep or ".", rep or "/" }
    for i = 1, 4 do
        local value = args[i]
        if type(value) ~= "string" or not utf8_len(value) then
            error(format("bad argument #%d to 'searchpath' (a UTF-8 string expected)", i), 2)
        end
    end
    return find(name, search, sep or ".", rep or "/")
end

package.path = ""
package.cpath = ""
package.loadlib = nil
package.searchers = { preload_searcher, lua_searcher }

local library = assert(raw_loadfile(lib_dir .. "/gopherbot_v1.lua", "t"))
package.preload["gopherbot_v1"] = function()
    return library(call)
end
package.preload["burrow"] = function()
    return require("gopherbot_v1")
end
-- gluahttp's interface, which upstream preloads (lua/http.lua; docs/lua.md, "http").
package.preload["http"] = function()
    return assert(raw_loadfile(lib_dir .. "/http.lua", "t"))(fetch)
end
-- gopher-json's interface, which upstream preloads: value or nil, error.
package.preload["json"] = function()
    return {
        encode = function(value)
            return codec("encode", value)
        end,
        decode = function(text)
            return codec("decode", text)
        end,
    }
end

---------------------------------------------------------------------------------------------
-- The standard library, reduced.

io = nil
python = nil
os = {
    clock = os.clock,
    date = os.date,
    difftime = os.difftime,
    getenv = os.getenv, -- the child's environment is already reduced to what the robot grants
    time = os.time,
}
debug = { traceback = traceback }
package.loaded.io = nil
package.loaded.python = nil
package.loaded.os = os
package.loaded.debug = debug

function print(...)
    local parts = {}
    for i = 1, select("#", ...) do
        parts[i] = tostring((select(i, ...)))
    end
    log(2, clean(concat(parts, "\t")))
end


---------------------------------------------------------------------------------------------
-- The runner: load the extension, run it, describe any error for the robot.

-- Where the error was raised: the frame whose "file:line:" prefixes the message, else the
-- innermost frame of the extension file, else the innermost Lua frame.
local function locate(message, script_source)
    local first, in_script
    local level = 3 -- 1 is locate, 2 is the handler
    while true do
        local info = getinfo(level, "Sl")
        if not info then
            break
        end
        if info.currentline and info.currentline > 0 then
            local prefix = info.short_src .. ":" .. info.currentline .. ":"
            if sub(message, 1, #prefix) == prefix then
                return info.source, info.currentline
            end
            first = first or info
            if not in_script and info.source == script_source then
                in_script = info
            end
        end
        level = level + 1
    end
    local found = in_script or first
    if found then
        return found.source, found.currentline
    end
end

local function runner(script, ...)
    local chunk, err = raw_loadfile(script, "t")
    if not chunk then
        return "load", clean(err)
    end
    local script_source = "@" .. script
    local function handler(e)
        if type(e) == "userdata" then
            return e -- a Python exception (a cancel): passed through untouched
        end
        local message
        if type(e) == "string" then
            message = e
        else
            local mt = getmetatable(e)
            if mt and mt.__tostring then
                message = tostring(e)
            else
                message = "(error object is a " .. type(e) .. " value)"
            end
        end
        message = clean(message)
        local source, line = locate(message, script_source)
        return {
            message = message,
            traceback = clean(traceback(message, 2)),
            file = source and sub(source, 1, 1) == "@" and sub(source, 2) or nil,
            line = line,
        }
    end
    local function returned(ok, value, ...)
        if ok and type(value) == "string" then
            value = clean(value)
        end
        return ok, value
    end
    return "ran", returned(xpcall(chunk, handler, ...))
end

local started = false
return function(gbot, path, readable)
    assert(not started, "a Lua state serves one execution")
    started = true
    for i = 1, #readable do
        readable_dirs[i] = readable[i]
    end
    package.path = path
    GBOT = gbot
    return runner
end
