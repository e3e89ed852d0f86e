-- The sandbox, in two parts. This chunk runs once per interpreter: it keeps the pristine
-- libraries as upvalues no script can reach, and returns `new_run`, which builds the fresh
-- tables of one run (its environment, the `redis` table, the read-only proxies, the function
-- library state) around that run's `redis.call` and `redis.pcall`, KEYS and ARGV. Everything a
-- script can modify is built by `new_run`; everything shared between runs is a function, or a
-- table reachable only through a metatable hidden by `__metatable`.
-- Arguments: the long-lived Rust callbacks, the Rust libraries and the version.
local sha1hex, setresp, log, error_text, budget_spent, random, randomseed,
  cjson, bit, cmsgpack, struct, version = ...
local G = _G
local error, type, rawget, tostring, select, setmetatable, setfenv, pairs, ipairs =
  error, type, rawget, tostring, select, setmetatable, setfenv, pairs, ipairs
local raw_pcall, raw_xpcall, raw_loadstring, unpack, next = pcall, xpcall, loadstring, unpack, next
-- The metatable strings share: scripts see a per-run stand-in through `__metatable`.
local string_meta = getmetatable('')

local function readonly()
  return function()
    error('Attempt to modify a readonly table', 2)
  end
end

-- A read-only view of `t`: a fresh empty table per run (rawset on it changes only this run's
-- view) over a shared metatable that scripts cannot get or replace.
local function protector(t)
  local meta = {__index = t, __newindex = readonly(), __metatable = false}
  return function()
    return setmetatable({}, meta)
  end
end

local function error_reply(e)
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
local function status_reply(s)
  if type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = s}
end

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

local base = {}
for _, name in ipairs({
  'assert', 'error', 'ipairs', 'next', 'pairs', 'rawequal', 'rawget', 'rawset', 'select',
  'setmetatable', 'getmetatable', 'tonumber', 'tostring', 'type', 'unpack', '_VERSION',
}) do
  base[name] = G[name]
end
-- No addresses: `tostring` of a table, function, coroutine or userdata without __tostring
-- names its type only ('table'), since its address differs between replicas.
local raw_tostring, getmetatable = tostring, getmetatable
base.tostring = function(...)
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
base.pcall = function(...)
  return after(raw_pcall(...))
end
base.xpcall = function(f, handler)
  return after(raw_xpcall(f, handler))
end
-- No memory figures: they could differ between replicas.
base.collectgarbage = function()
  return 0
end
base.gcinfo = function()
  return 0
end

local math_lib = {}
for name, f in pairs(G.math) do
  math_lib[name] = f
end
math_lib.random = random
math_lib.randomseed = randomseed

local libraries = {
  string = protector(G.string),
  table = protector(G.table),
  math = protector(math_lib),
  cjson = protector(cjson),
  bit = protector(bit),
  cmsgpack = protector(cmsgpack),
  struct = protector(struct),
}

local function nonexistent(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end

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

-- Runs main(...) under the message handler.
local function run(main, handler, ...)
  local n, args = select('#', ...), {...}
  return raw_xpcall(function()
    return main(unpack(args, 1, n))
  end, handler)
end

-- One run's tables. Returns the script's environment, the runner, and the function library
-- support (`begin` and `finish` loading, and what the code registered).
return function(call, pcall_command, KEYS, ARGV)
  -- The functions that may raise are Rust functions, not Lua wrappers: a Lua wrapper called
  -- as `return redis.call(...)` would be a tail call and hide the script's line from the error.
  local redis = {
    call = call,
    pcall = pcall_command,
    sha1hex = sha1hex,
    setresp = setresp,
    log = log,
    error_reply = error_reply,
    status_reply = status_reply,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = version,
    REDIS_VERSION_NUM = 0x070000,
  }
  local allowed = {}
  for name, value in next, base do
    allowed[name] = value
  end
  for name, protect in next, libraries do
    allowed[name] = protect()
  end
  allowed.redis = setmetatable({}, {__index = redis, __newindex = readonly(), __metatable = false})
  allowed.KEYS = KEYS
  allowed.ARGV = ARGV
  -- What getmetatable('') answers: this run's own table (the real one stays hidden).
  string_meta.__metatable = {__index = allowed.string}

  -- Function libraries (FUNCTION LOAD, FCALL). While a library's code runs (`loading`), its
  -- globals are Redis 7's loading API only: redis.register_function, redis.log, the log levels
  -- and the version. The functions it registers keep the same environment, which resolves to
  -- the full API once loading is over.
  local loading = false
  local registered, names = {}, {}
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
end
