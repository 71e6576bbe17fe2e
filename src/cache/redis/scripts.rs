//! The Lua scripts the store runs in Redis, each atomic there: a lookup checked against the
//! invalidation records, a write fenced by them, an invalidation, a resync and a lease's
//! release.
//!
//! Times are microseconds of Redis' `TIME`, the one clock every instance shares. An
//! invalidation is recorded at `TIME + 1`, an entry's generation is a `TIME` read before its
//! handler ran, and an entry is invalid when one of its names was recorded after its
//! generation (`record > generation`): a fill that read the time before a purge is fenced,
//! one that read it in the same microsecond after it is refilled (the safe side).
//!
//! The records always hold `*`, which invalidates every entry generated before it: a
//! script that finds no `*` (the records were lost: Redis restarted empty, was flushed, or
//! evicted the sorted set) records one now, so no entry from before the loss is served or
//! kept, and every instance, reading it at its next resync, drops its memory copies.
//!
//! Numbers are written with `string.format('%d', ..)`: Lua 5.1 prints a double of 16 digits
//! in exponent form, which would lose the last digits of a time.

use redis::Script;

/// `KEYS`: entry, records. `ARGV`: format. Answers `{0, now}` (nothing, or not an entry of
/// this format), `{1, now}` (invalidated) or `{2, now, generation, names, data}`.
pub(crate) const GET: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return {0, now} end
local e = redis.call('HMGET', KEYS[1], 'v', 'g', 'n', 'd')
if (not e[1]) or e[1] ~= ARGV[1] or (not e[2]) or (not e[3]) or (not e[4]) then
  return {0, now}
end
local g = tonumber(e[2])
-- Not a generation this store wrote (none is after now, or NaN): a miss.
if (not g) or g ~= g or g > now then return {0, now} end
local all = tonumber(redis.call('ZSCORE', KEYS[2], '*'))
if not all then
  all = now + 1
  redis.call('ZADD', KEYS[2], string.format('%d', all), '*')
end
if all > g then return {1, now} end
for name in string.gmatch(e[3], '[^\n]+') do
  local s = tonumber(redis.call('ZSCORE', KEYS[2], name))
  if s and s > g then return {1, now} end
end
return {2, now, e[2], e[3], e[4]}
";

/// `KEYS`: entry, records. `ARGV`: format, generation, names, data, time to live (ms).
/// Answers `1` when written, `0` when an invalidation after the generation fences it or the
/// stored entry is of a later generation. Whatever else is at the key (another type, another
/// format, a generation no clock has reached) is replaced.
pub(crate) const PUT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local g = tonumber(ARGV[2])
local all = tonumber(redis.call('ZSCORE', KEYS[2], '*'))
if not all then
  all = now + 1
  redis.call('ZADD', KEYS[2], string.format('%d', all), '*')
end
if all > g then return 0 end
for name in string.gmatch(ARGV[3], '[^\n]+') do
  local s = tonumber(redis.call('ZSCORE', KEYS[2], name))
  if s and s > g then return 0 end
end
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  local old = redis.call('HMGET', KEYS[1], 'v', 'g')
  local og = tonumber(old[2])
  -- A later entry of this format stays; a generation after now is none this store wrote.
  if old[1] == ARGV[1] and og and og == og and og > g and og <= now then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'g', ARGV[2], 'n', ARGV[3], 'd', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
";

/// `KEYS`: records. `ARGV`: name, retention (µs), channel, most records. Records `name` at
/// `TIME + 1` (or a later record already there), drops records older than the retention,
/// folds the oldest into `*` past the most, publishes `<time> <name>` and answers the time.
pub(crate) const INVALIDATE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local star = tonumber(redis.call('ZSCORE', KEYS[1], '*'))
if not star then
  star = now + 1
  redis.call('ZADD', KEYS[1], string.format('%d', star), '*')
  redis.call('PUBLISH', ARGV[3], string.format('%d', star) .. ' *')
end
local at = now + 1
local old = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if old and old > at then at = old end
local text = string.format('%d', at)
redis.call('ZADD', KEYS[1], text, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('(%d', now - tonumber(ARGV[2])))
if not redis.call('ZSCORE', KEYS[1], '*') then
  redis.call('ZADD', KEYS[1], string.format('%d', math.max(star, at)), '*')
end
redis.call('PUBLISH', ARGV[3], text .. ' ' .. ARGV[1])
-- Past the most records, the oldest are folded into `*`, which invalidates every entry
-- generated before the last of them.
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  local cut = redis.call('ZRANGE', KEYS[1], over - 1, over - 1, 'WITHSCORES')
  local floor = tonumber(cut[2])
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
  local star = tonumber(redis.call('ZSCORE', KEYS[1], '*'))
  if (not star) or star < floor then
    local ftext = string.format('%d', floor)
    redis.call('ZADD', KEYS[1], ftext, '*')
    redis.call('PUBLISH', ARGV[3], ftext .. ' *')
  end
end
return at
";

/// `KEYS`: records. `ARGV`: from (µs), most records. Answers `{now, name, time, name,
/// time, ..}`: every record at or after `from`, up to the most (one more tells the caller
/// there were too many).
pub(crate) const RESYNC: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if not redis.call('ZSCORE', KEYS[1], '*') then
  redis.call('ZADD', KEYS[1], string.format('%d', now + 1), '*')
end
local r = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]) + 1)
table.insert(r, 1, string.format('%d', now))
return r
";

/// `KEYS`: lease. `ARGV`: token. Deletes the lease when it is still this token's.
pub(crate) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The scripts, loaded once (by `EVALSHA`, with `EVAL` when Redis does not know one).
pub(crate) struct Scripts {
    pub(crate) get: Script,
    pub(crate) put: Script,
    pub(crate) invalidate: Script,
    pub(crate) resync: Script,
    pub(crate) release: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            get: Script::new(GET),
            put: Script::new(PUT),
            invalidate: Script::new(INVALIDATE),
            resync: Script::new(RESYNC),
            release: Script::new(RELEASE),
        }
    }
}
