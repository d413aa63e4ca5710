local n = 0
for i, v in ipairs(redis.call('HVALS', KEYS[1])) do
  local e = cjson.decode(v)
  redis.call('ZADD', KEYS[2], e[2], e[1])
  n = n + 1
end
redis.call('DEL', KEYS[1])
return n
