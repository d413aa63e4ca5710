if redis.call('LLEN', KEYS[2]) > 0 then
  local id = redis.call('GET', KEYS[3])
  if not id then id = ARGV[2]; redis.call('SET', KEYS[3], id) end
  return {id, redis.call('LRANGE', KEYS[2], 0, -1)}
end
local items = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('RPOP', KEYS[1])
  if not v then break end
  redis.call('RPUSH', KEYS[2], v)
  items[#items + 1] = v
end
if #items > 0 then redis.call('SET', KEYS[3], ARGV[2]) end
return {ARGV[2], items}
