/**
 * The Redis log's writes, each one Lua script so the fence check and the write are one atomic
 * step: a zombie producer's append fails even when it races the new owner's.
 *
 * Keys of a stream (one hash slot, through the `{id}` tag): `meta` (a hash: wire, key,
 * request, created, status, last, fence, attempts, final, error, cancel, x = expiry deadline),
 * `log` (the Redis Stream: entry `<last>-0` per batch with fields f = first id, d = SSE text;
 * `<last>-1` with field e = status marks the end), `lease` (`<token> <owner>`, PX lease) and
 * `read` (when a reader last noted reading, ms since the epoch; written without a script).
 *
 * A write script answers a status string: `appended`, `duplicate`, `missing`, `ended`,
 * `fenced <current token>` or `gap <expected first id>`.
 */

/** The fence check every write starts with; leaves `m` = HMGET meta fence status last x. */
const FENCE = `
local m = redis.call('HMGET', KEYS[1], 'fence', 'status', 'last', 'x')
if not m[1] then return 'missing' end
if m[1] ~= ARGV[1] then return 'fenced ' .. m[1] end
if m[2] ~= 'running' then return 'ended' end
`;

/** KEYS meta lease; ARGV wire keyHash request now owner leaseMs ttlMs → 1, or 0 if the id exists. */
export const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'wire', ARGV[1], 'key', ARGV[2], 'request', ARGV[3], 'created', ARGV[4],
  'status', 'running', 'last', '0', 'fence', '1', 'x', string.format('%d', now + ttl), 't', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], '1 ' .. ARGV[5], 'PX', ARGV[6])
return 1
`;

/**
 * The appends of many streams in one call: KEYS meta1 log1 meta2 log2 …; ARGV now ttlMs, then
 * token first last data per entry. Answers one status per entry, in order (entries of one
 * stream are applied in the order given). One script call for every append made in one turn of
 * the event loop costs Redis a fraction of a call per append. Expiry is pushed back only once
 * an eighth of the TTL has passed since it last was (two commands saved on most appends).
 */
export const APPEND_MANY = `
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local answers = {}
for i = 1, #KEYS / 2 do
  local meta, log, a = KEYS[2 * i - 1], KEYS[2 * i], 2 + (i - 1) * 4
  local token, first, newLast, data = ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3], ARGV[a + 4]
  local m = redis.call('HMGET', meta, 'fence', 'status', 'last', 'x', 't')
  -- A stream created with a TTL of its own keeps it.
  local ttl = tonumber(m[5]) or ttl
  local answer = 'appended'
  if not m[1] then answer = 'missing'
  elseif m[1] ~= token then answer = 'fenced ' .. m[1]
  elseif m[2] ~= 'running' then answer = 'ended'
  else
    local last = tonumber(m[3])
    if tonumber(newLast) <= last then answer = 'duplicate'
    elseif first ~= last + 1 then answer = 'gap ' .. (last + 1)
    else
      redis.call('XADD', log, newLast .. '-0', 'f', ARGV[a + 2], 'd', data)
      if last == 0 or tonumber(m[4]) - now < ttl - ttl / 8 then
        redis.call('HSET', meta, 'last', newLast, 'x', string.format('%d', now + ttl))
        redis.call('PEXPIRE', meta, ttl)
        redis.call('PEXPIRE', log, ttl)
      else
        redis.call('HSET', meta, 'last', newLast)
      end
    end
  end
  answers[i] = answer
end
return answers
`;

/** KEYS meta log lease; ARGV token status(finished|failed) field(final|error) json now ttlMs. */
export const END = `${FENCE}
redis.call('XADD', KEYS[2], m[3] .. '-1', 'e', ARGV[2])
local now = tonumber(ARGV[5])
local ttl = tonumber(redis.call('HGET', KEYS[1], 't')) or tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'status', ARGV[2], ARGV[3], ARGV[4], 'x', string.format('%d', now + ttl))
redis.call('DEL', KEYS[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return 'appended'
`;

/** KEYS meta; ARGV token attemptJson. Attempts are a JSON array in one field, extended in place. */
export const ATTEMPT = `${FENCE}
local a = redis.call('HGET', KEYS[1], 'attempts')
if a then a = string.sub(a, 1, -2) .. ',' .. ARGV[2] .. ']' else a = '[' .. ARGV[2] .. ']' end
redis.call('HSET', KEYS[1], 'attempts', a)
return 'appended'
`;

/** KEYS meta lease; ARGV owner leaseMs → the new token, or 0 if the lease is held or the stream ended. */
export const ACQUIRE = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local token = redis.call('HINCRBY', KEYS[1], 'fence', 1)
redis.call('SET', KEYS[2], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return token
`;

/**
 * The renewals of many leases in one call: KEYS meta1 lease1 meta2 lease2 …; ARGV leaseMs, then
 * token owner per lease. Answers one status per lease, in order: `renewed`, `cancelled` (renewed,
 * and a cancel was requested: a producer hears it at the next renewal even if it missed the
 * message, published while Redis was unreachable), or a refusal as a write's (`missing`,
 * `ended`, `fenced <current token>`). A lease that lapsed but that nobody took (the token is
 * still the highest) is taken back: fencing is by token, not by the key's presence. One call
 * per tick for every lease an instance keeps, instead of one per lease: the per-call cost was
 * most of Redis's CPU per stream. `renewLease` sends it with one lease.
 */
export const RENEW_MANY = `
local leaseMs = ARGV[1]
local answers = {}
for i = 1, #KEYS / 2 do
  local meta, lease, token, owner = KEYS[2 * i - 1], KEYS[2 * i], ARGV[2 * i], ARGV[2 * i + 1]
  local m = redis.call('HMGET', meta, 'fence', 'status', 'cancel')
  local answer = 'renewed'
  if not m[1] then answer = 'missing'
  elseif m[1] ~= token then answer = 'fenced ' .. m[1]
  elseif m[2] ~= 'running' then answer = 'ended'
  else
    redis.call('SET', lease, token .. ' ' .. owner, 'PX', leaseMs)
    if m[3] == '1' then answer = 'cancelled' end
  end
  answers[i] = answer
end
return answers
`;

/** KEYS lease; ARGV token owner: deletes the lease only if it is still this owner's. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] .. ' ' .. ARGV[2] then redis.call('DEL', KEYS[1]) end
return 1
`;

/** KEYS meta; ARGV channel id → 1, or 0 if the stream is unknown or ended. Flag first, then tell. */
export const CANCEL = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'cancel', '1')
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
`;
