-- The sandbox every script runs in, built by the engine before the script is compiled.
-- Arguments: the Rust callbacks. Returns the script's environment, the runner, and the
-- function library support (`begin` and `finish` loading, and what the code registered).
local call, pcall_command, sha1hex, setresp, log, error_text, budget_spent, random, randomseed,
  cjson, bit, cmsgpack, struct, KEYS, ARGV, version = ...
local G = _G
local error, type, rawget, tostring, select, setmetatable, setfenv =
  error, type, rawget, tostring, select, setmetatable, setfenv
local raw_pcall, raw_xpcall, raw_loadstring, unpack, next = pcall, xpcall, loadstring, unpack, next

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
allowed.cmsgpack = protect(cmsgpack)
allowed.struct = protect(struct)
allowed.KEYS = KEYS
allowed.ARGV = ARGV

local function nonexistent(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end

-- Function libraries (FUNCTION LOAD, FCALL). While a library's code runs (`loading`), its
-- globals are Redis 7's loading API only: redis.register_function, redis.log, the log levels
-- and the version. The functions it registers keep the same environment, which resolves to
-- the full API once loading is over.
local loading = false
local registered, names = {}, {}
local function fail(text)
  error(text, 0)
end
local known_flags = {}
for _, flag in ipairs({'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}) do
  known_flags[flag] = true
end
local function stringlike(v)
  return type(v) == 'string' or type(v) == 'number'
end
local function register_function(...)
  local n = select('#', ...)
  local name, callback, flags, description
  if n == 1 then
    local t = ...
    if type(t) ~= 'table' then
      fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
    end
    for k, v in next, t do
      if k == 'function_name' then
        if not stringlike(v) then
          fail('function_name argument given to redis.register_function must be a string')
        end
        name = v
      elseif k == 'callback' then
        if type(v) ~= 'function' then
          fail('callback argument given to redis.register_function must be a function')
        end
        callback = v
      elseif k == 'flags' then
        if type(v) ~= 'table' then
          fail('flags argument to redis.register_function must be a table representing function flags')
        end
        flags = v
      elseif k == 'description' then
        if not stringlike(v) then
          fail('description argument given to redis.register_function must be a string')
        end
        description = tostring(v)
      else
        fail('unknown argument given to redis.register_function')
      end
    end
    if name == nil then
      fail('redis.register_function must get a function name argument')
    end
    if callback == nil then
      fail('redis.register_function must get a callback argument')
    end
  elseif n == 2 then
    name, callback = ...
    if not stringlike(name) then
      fail('first argument to redis.register_function must be a string')
    end
    if type(callback) ~= 'function' then
      fail('second argument to redis.register_function must be a function')
    end
  else
    fail('wrong number of arguments to redis.register_function')
  end
  name = tostring(name)
  local set = {}
  for _, flag in next, flags or {} do
    if type(flag) ~= 'string' or not known_flags[flag] then
      fail('unknown flag given')
    end
    set[flag] = true
  end
  if not name:find('^[%w_]+$') then
    fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
  end
  if registered[name] then
    fail('Function already exists in the library')
  end
  registered[name] = {callback = callback, flags = set, description = description}
  names[#names + 1] = name
end

local load_redis = setmetatable({
  register_function = register_function,
  log = log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = version,
  REDIS_VERSION_NUM = 0x070000,
}, {__index = nonexistent, __newindex = readonly()})

local env = setmetatable({}, {
  __index = function(_, name)
    local value
    if loading then
      if name == 'redis' then
        value = load_redis
      end
    else
      value = allowed[name]
    end
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

-- Runs main(...) under the message handler.
local function run(main, handler, ...)
  local n, args = select('#', ...), {...}
  return raw_xpcall(function()
    return main(unpack(args, 1, n))
  end, handler)
end
local library = {
  begin = function()
    loading = true
  end,
  finish = function()
    loading = false
  end,
  registered = registered,
  names = names,
}
return env, run, library
