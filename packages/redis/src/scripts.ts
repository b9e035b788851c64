/**
 * The Lua scripts the adapter runs on the server, each atomic: claiming deliveries for a member
 * (due retries, or the pending entries of members that are gone), parking a closing member's
 * pending entries, and moving delayed sends onto their streams.
 */

/**
 * Claims up to `max` entries for member `me` and returns `{ entry id, fields, delivery count }` per
 * entry. Mode `due`: the entry ids in the group's due set whose time came (nacks, ack timeouts,
 * releases); an entry `me` gave back itself is left, for `grace` ms after it came due, to the
 * group's other live members, if there are any (a stuck member would only take it again).
 * Mode `orphans`: pending entries held by a member whose liveness key expired (a crashed
 * process) or by the parked name (a closed member), skipping entries in the due set.
 * XCLAIM adds 1 to each entry's delivery count, which is the next attempt's number.
 *
 * KEYS: stream, due set, givers hash (entry id -> member). ARGV: group, me, now (ms), max, mode,
 * liveness key prefix, parked name, grace (ms).
 */
export const CLAIM = `
local stream, due, from = KEYS[1], KEYS[2], KEYS[3]
local group, me, now, max = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local ids = {}
if ARGV[5] == 'due' then
  local others = nil
  local cand = redis.call('ZRANGEBYSCORE', due, '-inf', ARGV[3], 'WITHSCORES', 'LIMIT', 0, max * 4)
  for i = 1, #cand, 2 do
    if #ids >= max then break end
    local id = cand[i]
    local leave = false
    if tonumber(cand[i + 1]) > now - tonumber(ARGV[8]) and redis.call('HGET', from, id) == me then
      if others == nil then
        others = false
        for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
          if c[2] ~= me and c[2] ~= ARGV[7] and redis.call('EXISTS', ARGV[6] .. c[2]) == 1 then others = true break end
        end
      end
      leave = others
    end
    if not leave then ids[#ids + 1] = id end
  end
  if #ids > 0 then
    redis.call('ZREM', due, unpack(ids))
    redis.call('HDEL', from, unpack(ids))
  end
else
  local pending = redis.call('XPENDING', stream, group, '-', '+', 1000)
  for _, e in ipairs(pending) do
    if #ids >= max then break end
    if e[2] ~= me and not redis.call('ZSCORE', due, e[1]) and redis.call('EXISTS', ARGV[6] .. e[2]) == 0 then ids[#ids + 1] = e[1] end
  end
end
if #ids == 0 then return {} end
local out = {}
for _, e in ipairs(redis.call('XCLAIM', stream, group, me, 0, unpack(ids))) do
  if e and e[2] then
    local p = redis.call('XPENDING', stream, group, e[1], e[1], 1)
    out[#out + 1] = { e[1], e[2], p[1][4] }
  end
end
return out
`;

/**
 * A closing member hands its pending entries to the parked name (delivery counts kept), so that
 * other members claim them at once, then leaves the group and drops its liveness key.
 *
 * KEYS: stream, liveness key. ARGV: group, me, parked name.
 */
export const PARK = `
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 100000, ARGV[2])
for _, e in ipairs(pending) do redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, e[1], 'JUSTID') end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
redis.call('DEL', KEYS[2])
return #pending
`;

/**
 * Moves delayed sends whose time came onto their streams. The sorted set's members are
 * "<stream key>\\n<message key>"; each message's fields wait in the hash <hash prefix><message key>.
 *
 * KEYS: the delayed set. ARGV: now (ms), max, hash prefix.
 */
export const MOVE_DELAYED = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local nl = string.find(m, '\\n', 1, true)
  local hk = ARGV[3] .. string.sub(m, nl + 1)
  local f = redis.call('HGETALL', hk)
  if #f > 0 then redis.call('XADD', string.sub(m, 1, nl - 1), '*', unpack(f)) end
  redis.call('DEL', hk)
  redis.call('ZREM', KEYS[1], m)
end
return #due
`;
