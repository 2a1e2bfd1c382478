/**
 * The Lua scripts and key names of the Redis presence store (lib/broker/redis_presence.ts).
 * Each script touches the two keys of one topic, which share the hash tag `{<prefix>:<topic>}` and
 * so one slot (Redis Cluster runs them too):
 *
 * - `{<prefix>:<topic>}:pe`, a hash: connection id → the entry as JSON;
 * - `{<prefix>:<topic>}:px`, a sorted set: connection id → when the entry expires (ms).
 *
 * Both keys also expire as a whole (twice the ttl after their last write), so a topic whose nodes
 * all died leaves nothing behind.
 *
 * @module
 */

/** The two keys of a topic's presence: the entries hash and the expiry sorted set. */
export function presenceKeys(prefix: string, topic: string): [entries: string, expiry: string] {
  const tag = `{${prefix}:${topic}}`;
  return [`${tag}:pe`, `${tag}:px`];
}

/**
 * Adds or refreshes entries. KEYS: entries, expiry. ARGV: expiresAt, key ttl (ms), then pairs of
 * connection id and entry JSON. Returns the entries that were not there before (joins).
 */
export const JOIN_SCRIPT = `
local added = {}
for i = 3, #ARGV, 2 do
  if redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then added[#added + 1] = ARGV[i + 1] end
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return added`;

/** Removes entries. KEYS: entries, expiry. ARGV: connection ids. Returns the removed entries. */
export const LEAVE_SCRIPT = `
local removed = {}
for i = 1, #ARGV do
  local entry = redis.call('HGET', KEYS[1], ARGV[i])
  if entry then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    removed[#removed + 1] = entry
  end
end
return removed`;

/**
 * Removes the expired entries, then reads what is left. KEYS: entries, expiry. ARGV: now (ms),
 * "1" to return the live entries. Returns {expired entries, live entries, how many are left}.
 */
export const EXPIRE_SCRIPT = `
local gone = {}
for _, client in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])) do
  local entry = redis.call('HGET', KEYS[1], client)
  redis.call('HDEL', KEYS[1], client)
  redis.call('ZREM', KEYS[2], client)
  if entry then gone[#gone + 1] = entry end
end
local live = {}
if ARGV[2] == '1' then live = redis.call('HVALS', KEYS[1]) end
return {gone, live, redis.call('HLEN', KEYS[1])}`;

/**
 * Takes or keeps the sweeper's lock. KEYS: the lock. ARGV: node id, ttl (ms). Returns 1 when
 * this node holds it now.
 */
export const LOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;
