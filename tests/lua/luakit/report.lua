-- report(...): print "REPORT <json>" of its arguments (nil included) for the test to read.
-- Tables follow the binding's wire rules: keys exactly 1..n make an array, others an object.

local function encode(v, seen)
    local t = type(v)
    if v == nil then
        return "null"
    elseif t == "boolean" then
        return tostring(v)
    elseif t == "number" then
        if math.type(v) == "integer" then
            return string.format("%d", v)
        end
        return string.format("%.17g", v)
    elseif t == "string" then
        return '"' .. v:gsub('[%c"\\]', function(c)
            return string.format("\\u%04x", c:byte())
        end) .. '"'
    elseif t == "table" then
        if seen[v] then
            return '"<cycle>"'
        end
        seen[v] = true
        local count, keys = 0, {}
        for k in pairs(v) do
            count = count + 1
            keys[#keys + 1] = k
        end
        local is_array = count > 0
        for _, k in ipairs(keys) do
            if math.type(k) ~= "integer" or k < 1 or k > count then
                is_array = false
            end
        end
        local parts = {}
        if is_array then
            for i = 1, count do
                parts[i] = encode(v[i], seen)
            end
            seen[v] = nil
            return "[" .. table.concat(parts, ",") .. "]"
        end
        for _, k in ipairs(keys) do
            parts[#parts + 1] = encode(tostring(k), seen) .. ":" .. encode(v[k], seen)
        end
        seen[v] = nil
        return "{" .. table.concat(parts, ",") .. "}"
    end
    return '"<' .. t .. '>"'
end

return function(...)
    local parts = {}
    for i = 1, select("#", ...) do
        parts[i] = encode((select(i, ...)), {})
    end
    print("REPORT [" .. table.concat(parts, ",") .. "]")
end
