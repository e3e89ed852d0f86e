-- The sandbox every script runs in, built by the engine before the script is compiled.
-- Arguments: the Rust callbacks. Returns the script's environment and the runner.
local call, pcall_command, sha1hex, setresp, log, error_text, budget_spent, random, randomseed,
  cjson, bit, KEYS, ARGV, version = ...
local G = _G
local error, type, rawget, tostring, select, setmetatable, setfenv =
  error, type, rawget, tostring, select, setmetatable, setfenv
local raw_pcall, raw_xpcall, raw_loadstring = pcall, xpcall, loadstring

local function readonly(name)
  return function()
    error('Attempt to modify a readonly table', 2)
  end
end

local function protect(t)
  return setmetatable({}, {__index = t, __newindex = readonly()})
end

-- The functions that may raise are Rust functions, not Lua wrappers: a Lua wrapper called as
-- `return redis.call(...)` would be a tail call and hide the script's line from the error.
local redis = {}
redis.call = call
redis.pcall = pcall_command
redis.sha1hex = sha1hex
redis.setresp = setresp
redis.log = log
redis.error_reply = function(e)
  if type(e) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  if e:sub(1, 1) == '-' then
    e = e:sub(2)
  end
  if not e:find(' ', 1, true) then
    e = 'ERR ' .. e
  end
  return {err = (e:gsub('[\r\n]+$', ''))}
end
redis.status_reply = function(s)
  if type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = s}
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REDIS_VERSION = version
redis.REDIS_VERSION_NUM = 0x070000

-- pcall and xpcall hand the errors of the redis library over as text (as Redis does), and
-- never swallow the end of the instruction budget.
local function after(ok, ...)
  if budget_spent() then
    error('instruction limit', 0)
  end
  if not ok then
    local text = error_text((...))
    if text then
      return false, text
    end
  end
  return ok, ...
end

local allowed = {}
for _, name in ipairs({
  'assert', 'error', 'ipairs', 'next', 'pairs', 'rawequal', 'rawget', 'rawset', 'select',
  'setmetatable', 'getmetatable', 'tonumber', 'tostring', 'type', 'unpack', '_VERSION',
}) do
  allowed[name] = G[name]
end
-- No addresses: `tostring` of a table, function, coroutine or userdata without __tostring
-- names its type only ('table'), since its address differs between replicas.
local raw_tostring, getmetatable = tostring, getmetatable
allowed.tostring = function(...)
  local v = ...
  local t = type(v)
  if t == 'table' or t == 'function' or t == 'userdata' or t == 'thread' then
    local mt = getmetatable(v)
    if not (type(mt) == 'table' and rawget(mt, '__tostring')) then
      return t
    end
  end
  return raw_tostring(...)
end
allowed.pcall = function(...)
  return after(raw_pcall(...))
end
allowed.xpcall = function(f, handler)
  return after(raw_xpcall(f, handler))
end
-- No memory figures: they could differ between replicas.
allowed.collectgarbage = function()
  return 0
end
allowed.gcinfo = function()
  return 0
end

local math_lib = {}
for name, f in pairs(G.math) do
  math_lib[name] = f
end
math_lib.random = random
math_lib.randomseed = randomseed

allowed.string = protect(G.string)
allowed.table = protect(G.table)
allowed.math = protect(math_lib)
allowed.redis = protect(redis)
allowed.cjson = protect(cjson)
allowed.bit = protect(bit)
allowed.KEYS = KEYS
allowed.ARGV = ARGV

local env = setmetatable({}, {
  __index = function(_, name)
    local value = allowed[name]
    if value == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return value
  end,
  __newindex = readonly(),
})
allowed._G = env

-- Source only: bytecode could break the interpreter's invariants.
allowed.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then
    return nil, 'loading bytecode is not allowed'
  end
  local f, e = raw_loadstring(s, name)
  if f then
    setfenv(f, env)
  end
  return f, e
end

local function run(main, handler)
  return raw_xpcall(main, handler)
end
return env, run
