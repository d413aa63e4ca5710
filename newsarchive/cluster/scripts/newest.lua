local cur = tonumber(redis.call('GET', KEYS[1]) or '-1e18')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[2]); return 1
end
return 0
