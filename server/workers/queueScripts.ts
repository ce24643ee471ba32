// The cluster-wide render queue's state transitions, each one Lua script run atomically by Redis
// (WorkQueue.ts explains the keys). Keys are built inside the scripts from a prefix: the queue
// runs on one Redis, never a Redis Cluster.
//
// The rules they keep, whichever node or worker calls them:
// - latest wins: per frame at most one job waiting (`job:<fk>`, replaced by a newer snapshot) and
//   one running (`running` hash, with its payload in `run:<fk>` until it is done);
// - fair: the room served least recently goes first (`rooms:<model>`, a sorted set scored by when
//   each room was last served, `served:<room>`), and inside a room its frames take turns
//   (`frames:<model>:<room>`): a room that starts drawing waits for at most the render in progress,
//   however busy the others are;
// - a running job holds a lease (`lease:<fk>`, renewed by its worker); one whose lease expired is
//   put back (the newest snapshot is rendered by another worker) and its worker's late result is
//   refused (the token no longer matches), so a render is never published twice;
// - the bytes of waiting and running snapshots (`pending`) stay under a cluster-wide budget, and a
//   job nobody takes expires.

/** Puts frame `fk` of `room` in line for `model` unless it is already (or running). */
const REQUEUE = `
local function requeue(p, fk, model)
  if redis.call('HEXISTS', p..'running', fk) == 1 then return end
  if redis.call('SISMEMBER', p..'queued', fk) == 1 then return end
  local room, frame = string.match(fk, '^([^/]+)/(.+)$')
  redis.call('SADD', p..'queued', fk)
  if redis.call('RPUSH', p..'frames:'..model..':'..room, frame) == 1 then
    redis.call('ZADD', p..'rooms:'..model, tonumber(redis.call('GET', p..'served:'..room) or '0'), room)
  end
  redis.call('LPUSH', p..'wake:'..model, '1')
  redis.call('LTRIM', p..'wake:'..model, 0, 31)
end
`;

/** Forgets the waiting job of frame `fk` (and its bytes in the budget). */
const DROP_WAITING = `
local function dropWaiting(p, fk)
  redis.call('DEL', p..'job:'..fk)
  redis.call('ZREM', p..'expiry', fk)
  redis.call('HDEL', p..'model', fk)
  redis.call('DECRBY', p..'pending', tonumber(redis.call('HGET', p..'bytes', fk) or '0'))
  redis.call('HDEL', p..'bytes', fk)
end
`;

/** ARGV: prefix, fk, model, seq, payload, bytes, maxBytes, ttlMs, now, channel, statusJson.
 * Returns 'accepted' | 'replaced' | 'stale' | 'busy'. */
export const SUBMIT = `${REQUEUE}
local p, fk, model = ARGV[1], ARGV[2], ARGV[3]
local seq, bytes, maxBytes = tonumber(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[7])
local last = tonumber(redis.call('GET', p..'last:'..fk) or '-1')
if seq <= last then return 'stale' end
local old = tonumber(redis.call('HGET', p..'bytes', fk) or '0')
local total = tonumber(redis.call('GET', p..'pending') or '0')
if total - old + bytes > maxBytes then return 'busy' end
redis.call('SET', p..'last:'..fk, ARGV[4], 'PX', 86400000)
redis.call('SET', p..'job:'..fk, ARGV[5])
redis.call('HSET', p..'bytes', fk, bytes)
redis.call('HSET', p..'model', fk, model)
redis.call('INCRBY', p..'pending', bytes - old)
redis.call('ZADD', p..'expiry', tonumber(ARGV[9]) + tonumber(ARGV[8]), fk)
requeue(p, fk, model)
-- 'queued' only when the frame turns queued (a replaced waiting snapshot changes nothing people see)
if old == 0 and redis.call('HEXISTS', p..'running', fk) == 0 then redis.call('PUBLISH', ARGV[10], ARGV[11]) end
if old > 0 then return 'replaced' end
return 'accepted'
`;

/** ARGV: prefix, worker, token, leaseMs, channel, model… Takes the next job of the first of the
 * worker's models that has one. Returns {fk, payload, model} or nil. */
export const TAKE = `${REQUEUE}
local p, worker, token, lease, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
for i = 6, #ARGV do
  local model = ARGV[i]
  local rooms = p..'rooms:'..model
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for _ = 1, redis.call('ZCARD', rooms) do
    local room = redis.call('ZRANGE', rooms, 0, 0)[1]
    if not room then break end
    redis.call('ZREM', rooms, room)
    local list = p..'frames:'..model..':'..room
    local frame = redis.call('LPOP', list)
    -- served now: its next frame waits behind every room served longer ago
    redis.call('SET', p..'served:'..room, now, 'PX', 3600000)
    if redis.call('LLEN', list) > 0 then redis.call('ZADD', rooms, now, room) end
    if frame then
      local fk = room..'/'..frame
      redis.call('SREM', p..'queued', fk)
      local job = redis.call('GET', p..'job:'..fk)
      local wanted = redis.call('HGET', p..'model', fk)
      if job and wanted ~= model then
        requeue(p, fk, wanted)
      elseif job then
        redis.call('DEL', p..'job:'..fk)
        redis.call('ZREM', p..'expiry', fk)
        redis.call('HDEL', p..'model', fk)
        redis.call('HSET', p..'runbytes', fk, redis.call('HGET', p..'bytes', fk) or '0')
        redis.call('HDEL', p..'bytes', fk)
        redis.call('SET', p..'run:'..fk, job)
        redis.call('HSET', p..'runmodel', fk, model)
        redis.call('HSET', p..'running', fk, worker..' '..token)
        redis.call('SET', p..'lease:'..fk, worker..' '..token, 'PX', lease)
        redis.call('PUBLISH', channel, cjson.encode({t = 'state', fk = fk, state = 'rendering', worker = worker}))
        return {fk, job, model}
      end
    end
  end
end
return false
`;

/** ARGV: prefix, fk, worker, token, channel, message. Publishes `message` (the result, or an
 * error status) only if this worker still holds the job. Returns 1, or 0 when it lost it. */
export const FINISH = `${REQUEUE}
local p, fk, holder = ARGV[1], ARGV[2], ARGV[3]..' '..ARGV[4]
if redis.call('HGET', p..'running', fk) ~= holder then return 0 end
redis.call('HDEL', p..'running', fk)
redis.call('HDEL', p..'runmodel', fk)
redis.call('DEL', p..'run:'..fk, p..'lease:'..fk)
redis.call('DECRBY', p..'pending', tonumber(redis.call('HGET', p..'runbytes', fk) or '0'))
redis.call('HDEL', p..'runbytes', fk)
redis.call('PUBLISH', ARGV[5], ARGV[6])
local waiting = redis.call('HGET', p..'model', fk)
if waiting and redis.call('EXISTS', p..'job:'..fk) == 1 then requeue(p, fk, waiting) end
return 1
`;

/** ARGV: prefix, worker, token, leaseMs, fk… Renews the leases this worker still holds. */
export const RENEW = `
local p, holder, lease = ARGV[1], ARGV[2]..' '..ARGV[3], ARGV[4]
local n = 0
for i = 5, #ARGV do
  if redis.call('HGET', p..'running', ARGV[i]) == holder then
    redis.call('SET', p..'lease:'..ARGV[i], holder, 'PX', lease)
    n = n + 1
  end
end
return n
`;

/** ARGV: prefix, now, channel. Jobs whose worker stopped renewing go back in line (the newest
 * snapshot, which is the running one unless a newer one waits); waiting jobs past their expiry
 * go. Returns the number of jobs put back. */
export const REAP = `${REQUEUE}${DROP_WAITING}
local p, now, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local running = redis.call('HGETALL', p..'running')
local back = 0
for i = 1, #running, 2 do
  local fk = running[i]
  if redis.call('EXISTS', p..'lease:'..fk) == 0 then
    local payload = redis.call('GET', p..'run:'..fk)
    local model = redis.call('HGET', p..'runmodel', fk)
    local bytes = tonumber(redis.call('HGET', p..'runbytes', fk) or '0')
    redis.call('HDEL', p..'running', fk)
    redis.call('HDEL', p..'runmodel', fk)
    redis.call('HDEL', p..'runbytes', fk)
    redis.call('DEL', p..'run:'..fk)
    if payload and redis.call('EXISTS', p..'job:'..fk) == 0 then
      redis.call('SET', p..'job:'..fk, payload)
      redis.call('HSET', p..'bytes', fk, bytes)
      redis.call('HSET', p..'model', fk, model)
      redis.call('ZADD', p..'expiry', now + 60000, fk)
    else
      redis.call('DECRBY', p..'pending', bytes)
    end
    requeue(p, fk, redis.call('HGET', p..'model', fk) or model)
    redis.call('PUBLISH', channel, cjson.encode({t = 'state', fk = fk, state = 'queued', message = 'its render worker stopped (' .. running[i + 1] .. '); rendering again on another one'}))
    back = back + 1
  end
end
for _, fk in ipairs(redis.call('ZRANGEBYSCORE', p..'expiry', '-inf', now)) do dropWaiting(p, fk) end
return back
`;

/** ARGV: prefix, fk… Forget the waiting jobs of these frames (deleted, or their room closed everywhere). */
export const DROP = `${DROP_WAITING}
local p = ARGV[1]
for i = 2, #ARGV do
  if redis.call('EXISTS', p..'job:'..ARGV[i]) == 1 then dropWaiting(p, ARGV[i]) end
end
return 1
`;
