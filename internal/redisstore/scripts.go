package redisstore

// The server-side half of the stores. Every script touches only keys of one
// function, which share the hash tag {<tag>} and therefore one Cluster slot;
// KEYS always names at least one of them so the client routes the call to
// the node serving that slot. Entry keys built inside a script (eviction,
// touches, Clear) are prefix..member, in the same slot.
//
// Per function (tag = hex of the first 16 bytes of SHA-256(fn)):
//
//	pc:{tag}:k:<key>  the value (a string; PEXPIREAT when the function has a TTL)
//	pc:{tag}:lru      sorted set of every stored key; score = recency from seq
//	pc:{tag}:seq      counter (INCR) giving exact, strictly increasing recency
//	pc:{tag}:exp      sorted set of the keys that expire; score = expiry in unix ms
//
// and, once per database, shared by every function:
//
//	pc:ns             hash: namespace -> its last use, unix ms (see Registry)
//
// lru indexes every entry of the function, bounded or not, so Len is a
// ZCARD after pruning expired members (found through exp, in batches), and
// Clear deletes the indexed keys in batches without scanning the keyspace.
// Expiry times come from the server clock (TIME), so clients' clocks never
// matter; a key is live while now <= its PEXPIREAT time, as Redis decides.
//
// Reads are plain GETs: no script runs on a hit or a miss. A process
// records the keys its bounded functions hit, and the keys whose GET
// missed, and hands them to the server in batches: with its next Set of
// that function (SetScript, in the same atomic step as the upsert and the
// eviction), or through TouchScript within a delay, when the batch is
// full, and on Close. Applying a batch makes each hit key that is still
// indexed the most recently used, in the order of the hits, and drops from
// the index every hit or missed key whose entry no longer exists: one that
// expired, or that Redis itself dropped under a maxmemory policy. That is
// where the dangling index members that getScript used to drop on a miss
// go now, lazily, off the read path.
//
// The registry of namespaces (pc:ns) is what lists them: a function's
// keys are named by a hash of its namespace, which cannot be read back.
// A process registers a namespace (UseScript), with the time of its first
// Space of it, as soon as it makes that Space, and records later uses
// (reads or writes) at most once per runtime.UseInterval, all from its
// flusher, so that a Space reaches no server and a hit stays one GET.
// UseScript only ever moves a last use forward, whichever process's
// clock is behind. The registry is in a slot of its own, so it is
// written apart from the function's keys, never atomically with them: a
// namespace's entries may exist for a moment without its field (written
// by a process whose use is not recorded yet: just after its first Space,
// or after DeleteNamespace removed the field), and a field outlives the
// entries that Clear deletes. Listing (ListScript, then
// StatsScript in each function's slot) and deleting a namespace
// (LastUseScript before each ClearScript batch, then ForgetScript) are
// therefore several calls, each atomic on its own slot: see
// Store.Namespaces and Store.DeleteNamespace for what that allows.
//
// The layout is the one older clients wrote and read (their getScript
// read a value and bumped it in one script): their entries stay readable,
// and old and new clients may share a server. The scripts are the whole
// protocol: another client library reuses them as they are, with the
// KEYS and ARGV described at each; runtime/redis (rueidis) and
// runtime/goredis (go-redis) both run them through Client.Run, and so share
// a server and each other's entries.

// A Script is one of the server-side scripts of the store, each a Lua
// program that a Client runs with EVALSHA (EVAL when the server does not
// have it yet). Its integer reply is what Client.Run returns.
type Script int

// The scripts, in the order of Scripts.
const (
	SetScript     Script = iota // see setLua
	TouchScript                 // see touchLua
	LenScript                   // see lenLua
	ClearScript                 // see clearLua
	UseScript                   // see useLua
	ListScript                  // see listLua
	StatsScript                 // see statsLua
	LastUseScript               // see lastUseLua
	ForgetScript                // see forgetLua
)

// Scripts lists every Script, so that a Client can prepare each once:
//
//	var lua [len(redisstore.Scripts)]*rueidis.Lua
//	for _, sc := range redisstore.Scripts {
//		lua[sc] = rueidis.NewLuaScript(sc.Source())
//	}
var Scripts = [...]Script{SetScript, TouchScript, LenScript, ClearScript, UseScript, ListScript, StatsScript, LastUseScript, ForgetScript}

var sources = [len(Scripts)]string{setLua, touchLua, lenLua, clearLua, useLua, listLua, statsLua, lastUseLua, forgetLua}

var scriptNames = [len(Scripts)]string{"set", "touch", "len", "clear", "use", "list", "stats", "lastuse", "forget"}

// lists marks the scripts whose reply is an array of strings, which a
// Client runs with RunList; the others reply with an integer (Run).
var lists = [len(Scripts)]bool{ListScript: true, StatsScript: true}

// List reports whether the script replies with an array of strings
// (Client.RunList) rather than an integer (Client.Run).
func (sc Script) List() bool { return lists[sc] }

// Source returns the Lua text of the script.
func (sc Script) Source() string { return sources[sc] }

// String returns the script's short name, as "set".
func (sc Script) String() string { return scriptNames[sc] }

// libLua holds the functions the scripts share.
//
// prune removes up to n members of exp that expired before now from lru
// and exp, and returns how many it removed. The keys themselves are already
// expired on the server.
//
// touch applies a batch of recorded reads to one function. ARGV[first] is
// the number t of hit members; the t arguments after it are those members,
// the least recent hit first; every argument after them is a member whose
// GET missed. A member not in lru is skipped (evicted or cleared since, or
// never stored). A hit member whose entry still exists becomes the most
// recent (ZADD XX with an INCR'd score, in order); a hit or missed member
// whose entry no longer exists leaves lru and exp. A missing or empty
// ARGV[first] is an empty batch.
const libLua = `
local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end
local function chunked(cmd, key, list, prefix)
  local i = 1
  while i <= #list do
    local part = {}
    for j = i, math.min(i + 255, #list) do
      if prefix then part[#part + 1] = prefix .. list[j] else part[#part + 1] = list[j] end
    end
    if key then redis.call(cmd, key, unpack(part)) else redis.call(cmd, unpack(part)) end
    i = i + 256
  end
end
local function prune(lru, exp, now, n)
  local dead = redis.call('ZRANGEBYSCORE', exp, '-inf', '(' .. now, 'LIMIT', 0, n)
  if #dead > 0 then
    chunked('ZREM', lru, dead)
    chunked('ZREM', exp, dead)
  end
  return #dead
end
local function touch(lru, seq, exp, prefix, first)
  local hits = first + (tonumber(ARGV[first]) or 0)
  for i = first + 1, #ARGV do
    local m = ARGV[i]
    if redis.call('ZSCORE', lru, m) then
      if redis.call('EXISTS', prefix .. m) == 0 then
        redis.call('ZREM', lru, m)
        redis.call('ZREM', exp, m)
      elseif i <= hits then
        redis.call('ZADD', lru, 'XX', redis.call('INCR', seq), m)
      end
    end
  end
end
`

// setLua, the SetScript, applies a batch of recorded reads (see touch),
// then stores a value, makes it the most recent, and evicts the least
// recently used entries beyond max, in one atomic step: the eviction sees
// every read the batch carries.
//
// KEYS: entry, lru, seq, exp. ARGV: value, member (key bytes), max size
// (-1 unbounded), ttl in ms (0: never), entry key prefix, then the batch:
// the number of hit members, the hit members (least recent first), the
// missed members. A call with only the first five arguments carries no
// batch.
const setLua = libLua + `
local now = now_ms()
-- Reclaim a bounded number of expired members per Set, so that an
-- unbounded function with a TTL does not grow its index forever.
prune(KEYS[2], KEYS[4], now, 128)
touch(KEYS[2], KEYS[3], KEYS[4], ARGV[5], 6)
local ttl = tonumber(ARGV[4])
redis.call('SET', KEYS[1], ARGV[1])
if ttl > 0 then
  local at = now + ttl
  redis.call('PEXPIREAT', KEYS[1], at)
  redis.call('ZADD', KEYS[4], at, ARGV[2])
else
  redis.call('ZREM', KEYS[4], ARGV[2])
end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[2])
local max = tonumber(ARGV[3])
if max > 0 then
  local over = redis.call('ZCARD', KEYS[2]) - max
  if over > 0 then
    local gone = redis.call('ZPOPMIN', KEYS[2], over)
    local members = {}
    for i = 1, #gone, 2 do members[#members + 1] = gone[i] end
    chunked('DEL', nil, members, ARGV[5])
    chunked('ZREM', KEYS[4], members)
  end
end
return 1
`

// touchLua, the TouchScript, applies a batch of recorded reads (see
// touch) on its own: the flush of a process's pending batch when no Set of
// the function carried it in time, when the batch is full, or at Close.
//
// KEYS: lru, seq, exp. ARGV: entry key prefix, then the batch: the number
// of hit members, the hit members (least recent first), the missed
// members.
const touchLua = libLua + `
touch(KEYS[1], KEYS[2], KEYS[3], ARGV[1], 2)
return 1
`

// lenLua, the LenScript, prunes up to ARGV[1] expired members and returns
// the number of live entries, or -1 when more expired members remain to be
// pruned (the client calls it again, so no single call blocks the server
// for long).
//
// KEYS: lru, exp. ARGV: batch.
const lenLua = libLua + `
local n = tonumber(ARGV[1])
if prune(KEYS[1], KEYS[2], now_ms(), n) >= n then
  return -1
end
return redis.call('ZCARD', KEYS[1])
`

// clearLua, the ClearScript, deletes up to ARGV[2] entries of a function
// with their index members and returns how many remain; when none remain
// it also drops the bookkeeping keys, so a cleared function leaves nothing
// behind.
//
// KEYS: lru, exp, seq. ARGV: entry key prefix, batch.
const clearLua = libLua + `
local members = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #members > 0 then
  chunked('DEL', nil, members, ARGV[1])
  chunked('ZREM', KEYS[1], members)
  chunked('ZREM', KEYS[2], members)
end
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
end
return left
`

// useLua, the UseScript, records uses of namespaces in the registry: for
// each pair of arguments, a namespace and the time of its use in unix ms,
// it sets the namespace's field to that time unless it holds a later one,
// so that a last use only moves forward whatever the processes' clocks.
//
// KEYS: the registry. ARGV: namespace, ms, namespace, ms, ...
const useLua = `
for i = 1, #ARGV, 2 do
  local old = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
  if not old or old < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
`

// listLua, the ListScript, is one step of an HSCAN of the registry: it
// returns the next cursor ("0" when the scan is complete) followed by
// namespace, last use pairs. A namespace may come twice in one scan.
//
// KEYS: the registry. ARGV: cursor, count.
const listLua = `
local r = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local out = {r[1]}
for _, x in ipairs(r[2]) do out[#out + 1] = x end
return out
`

// statsLua, the StatsScript, prunes up to ARGV[2] expired members (as
// lenLua does) and returns, as strings, the function's live entries and
// the bytes of their keys and values: exact up to ARGV[3] entries, beyond
// that the mean of ARGV[3] entries spread evenly over the recency order,
// times their number. It returns {"-1"} when more expired members remain
// to be pruned (the client calls it again).
//
// KEYS: lru, exp. ARGV: entry key prefix, batch, samples.
const statsLua = libLua + `
local n = tonumber(ARGV[2])
if prune(KEYS[1], KEYS[2], now_ms(), n) >= n then
  return {'-1'}
end
local count = redis.call('ZCARD', KEYS[1])
local k = tonumber(ARGV[3])
local function size(m) return #m + redis.call('STRLEN', ARGV[1] .. m) end
local bytes = 0
if count <= k then
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do bytes = bytes + size(m) end
else
  local sum = 0
  for i = 0, k - 1 do
    local r = math.floor(i * count / k)
    local m = redis.call('ZRANGE', KEYS[1], r, r)[1]
    if m then sum = sum + size(m) end
  end
  bytes = math.floor(sum * count / k)
end
return {string.format('%d', count), string.format('%d', bytes)}
`

// lastUseLua, the LastUseScript, returns a namespace's last use in the
// registry, unix ms, or -1 when the registry does not name it.
//
// KEYS: the registry. ARGV: namespace.
const lastUseLua = `
return tonumber(redis.call('HGET', KEYS[1], ARGV[1])) or -1
`

// forgetLua, the ForgetScript, removes a namespace from the registry if
// its last use is before ARGV[2] (unix ms), and returns 1 if it did: a
// use recorded meanwhile keeps it.
//
// KEYS: the registry. ARGV: namespace, ms.
const forgetLua = `
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if used and used < tonumber(ARGV[2]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
`
