//! The Lua scripts, each one atomic on the Redis server.

use std::sync::LazyLock;

use redis::Script;

/// Adds revocations to the sorted set (score: until when, on the validators' clock),
/// never shortening one, publishes those flagged, drops the expired ones, and keeps the
/// key alive as long as its longest entry (plus a minute).
///
/// `KEYS[1]` the sorted set; `ARGV[1]` the channel, `ARGV[2]` now (ms), then triples
/// `session_id, until_ms, publish (1/0)`. Published messages are `"<until_ms> <id>"`.
pub(crate) static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[2])
for i = 3, #ARGV, 3 do
  local id = ARGV[i]
  local untl = tonumber(ARGV[i + 1])
  if untl and untl > now then
    local current = redis.call('ZSCORE', KEYS[1], id)
    if (not current) or tonumber(current) < untl then
      redis.call('ZADD', KEYS[1], untl, id)
    end
    if ARGV[i + 2] == '1' then
      redis.call('PUBLISH', ARGV[1], ARGV[i + 1] .. ' ' .. id)
    end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] then
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(top[2]) - now) + 60000)
end
return 1
"#,
    )
});

/// The fleet-wide token bucket, the same arithmetic as `stytch-validator`'s local
/// budget: `rate` tokens per second up to `burst`; an unproven call may not draw below
/// half the burst (rounded down). A clock that moves backwards adds nothing.
///
/// `KEYS[1]` the bucket (a hash of `tokens` and `at`); `ARGV` now (ms), rate per second,
/// burst, proven (1/0). Returns `{granted (1/0), wait_ms}`.
pub(crate) static BUDGET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2]) / 1000
local burst = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(tokens + math.max(now - at, 0) * per_ms, burst)
if now > at then at = now end
local floor = 0
if ARGV[4] ~= '1' then floor = math.floor(burst / 2) end
local granted = 0
local wait = 0
if tokens - 1 >= floor then
  tokens = tokens - 1
  granted = 1
else
  wait = math.max(math.ceil((floor + 1 - tokens) / per_ms), 1)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / per_ms) + 60000)
return {granted, wait}
"#,
    )
});
