-- A request into the run's queue unless its fingerprint was seen (ARGV[1] '' = not filtered), and
-- the claim it replaces (ARGV[4] '' = none: a retry's or a redirect's) done: one round trip.
local added = 1
if ARGV[1] ~= '' then added = redis.call('SADD', KEYS[1], ARGV[1]) end
if added == 1 then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2]) end
if ARGV[4] ~= '' then redis.call('HDEL', KEYS[3], ARGV[4]) end
return added
