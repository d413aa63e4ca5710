local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt <= now then
  redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[1])), 'PX', 600000)
  return '0'
end
return tostring(nxt - now)
