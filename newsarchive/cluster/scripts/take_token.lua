-- A download place of a site (KEYS[1]: tokens by expiry) if fewer than ARGV[1] are held, as token
-- ARGV[3] for ARGV[2] seconds; then, with a delay (ARGV[4] > 0), the site's next free time
-- (KEYS[2]) as next_slot.lua takes it. Returns '-1' when the site is full, else the seconds to
-- wait before downloading ('0': now; the place is held meanwhile).
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return '-1' end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[2]) * 1000))
local delay = tonumber(ARGV[4])
if delay <= 0 then return '0' end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt <= now then
  redis.call('SET', KEYS[2], tostring(now + delay), 'PX', 600000)
  return '0'
end
return tostring(nxt - now)
