local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if not r[1] then return nil end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({r[1], r[2]}))
return r[1]
