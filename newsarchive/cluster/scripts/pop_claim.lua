-- Pop up to ARGV[2] requests (best priority first) and record each in the worker's claims hash
-- under ARGV[1]..':'..n: returns {claim, request, claim, request, ...}.
local r = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
if #r == 0 then return {} end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #r / 2 - 1)
local out = {}
for i = 1, #r, 2 do
  local claim = ARGV[1] .. ':' .. tostring((i + 1) / 2)
  redis.call('HSET', KEYS[2], claim, cjson.encode({r[i], r[i + 1]}))
  out[#out + 1] = claim
  out[#out + 1] = r[i]
end
return out
