/**
 * The Lua scripts behind the Redis adapter's atomic operations. Each runs as one unit on the server, so no other
 * client sees a half-done `claim` or a value without its index entry.
 *
 * Times come from the Redis server's clock (`TIME`), not the caller's: several replicas with skewed clocks then
 * still agree on when a lease ends, and index scores match the `PX` expiry Redis applies itself.
 * Values pass through as opaque strings: decoding JSON in Lua (cjson) would rewrite it (empty arrays become
 * objects, big numbers lose digits).
 */

/** Server time in epoch ms, as a Lua prelude. */
const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Drops ids whose entry has expired from a namespace index (scores are expiry times; `+inf` = never). */
const PRUNE = (indexKey: string): string => `redis.call('ZREMRANGEBYSCORE', ${indexKey}, '-inf', '(' .. string.format('%d', now))`;

/** A script as ioredis `defineCommand` takes it. */
export interface ScriptDefinition {
  /** Lua source. */
  lua: string;
  /** How many leading arguments are keys (the rest are ARGV). */
  numberOfKeys: number;
}

/**
 * The scripts, by the command name they are registered under.
 *
 * Key/argument order is part of each script's contract with `redis-storage.ts`; the comment above each gives it.
 */
export const scripts = {
  /**
   * KEYS: value, index. ARGV: id, json, ttlMs ('' = none), condition ('NX': only when absent, 'XX': only when a live
   * entry exists, '' = always). Returns 1 when stored. The condition is checked in the same script as the write, and
   * the index score moves with the TTL, so a replaced entry's new lifetime holds for `list` as well as `get`.
   */
  kvSet: {
    numberOfKeys: 2,
    lua: `${NOW}
      ${PRUNE('KEYS[2]')}
      local exists = redis.call('EXISTS', KEYS[1]) == 1
      if (ARGV[4] == 'NX' and exists) or (ARGV[4] == 'XX' and not exists) then return 0 end
      local ttl = tonumber(ARGV[3])
      if ttl then
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
        redis.call('ZADD', KEYS[2], string.format('%d', now + ttl), ARGV[1])
      else
        redis.call('SET', KEYS[1], ARGV[2])
        redis.call('ZADD', KEYS[2], '+inf', ARGV[1])
      end
      return 1`,
  },
  /** KEYS: value, index. ARGV: id. Returns the JSON or nil; GETDEL makes the read and the delete one step. */
  kvTake: {
    numberOfKeys: 2,
    lua: `local v = redis.call('GETDEL', KEYS[1])
      redis.call('ZREM', KEYS[2], ARGV[1])
      return v`,
  },
  /** KEYS: value, index. ARGV: id. Returns how many live entries were deleted (0 or 1). */
  kvDelete: {
    numberOfKeys: 2,
    lua: `local n = redis.call('DEL', KEYS[1])
      redis.call('ZREM', KEYS[2], ARGV[1])
      return n`,
  },
  /** KEYS: index. Returns the ids of live entries (pruning expired ones on the way). */
  kvIds: {
    numberOfKeys: 1,
    lua: `${NOW}
      ${PRUNE('KEYS[1]')}
      return redis.call('ZRANGE', KEYS[1], 0, -1)`,
  },
  /** KEYS: value, index. ARGV: id, by, ttlMs ('' = none). Returns the new count; the TTL is set only on creation. */
  kvIncrement: {
    numberOfKeys: 2,
    lua: `${NOW}
      local existed = redis.call('EXISTS', KEYS[1])
      local v = redis.call('INCRBY', KEYS[1], ARGV[2])
      if existed == 0 then
        ${PRUNE('KEYS[2]')}
        local ttl = tonumber(ARGV[3])
        if ttl then
          redis.call('PEXPIRE', KEYS[1], ttl)
          redis.call('ZADD', KEYS[2], string.format('%d', now + ttl), ARGV[1])
        else
          redis.call('ZADD', KEYS[2], '+inf', ARGV[1])
        end
      end
      return v`,
  },
  /**
   * KEYS: due, payloads, meta, sequence. ARGV: json, delayMs. Returns the new id.
   * Ids are the zero-padded sequence so that, among items due at the same time, the ZSET's lexical tie-break is
   * enqueue order.
   */
  queueEnqueue: {
    numberOfKeys: 4,
    lua: `${NOW}
      local id = string.format('%016d', redis.call('INCR', KEYS[4]))
      redis.call('HSET', KEYS[2], id, ARGV[1])
      redis.call('HSET', KEYS[3], id, '0:' .. string.format('%d', now))
      redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), id)
      return id`,
  },
  /**
   * KEYS: due, payloads, meta, sequence. ARGV: delayMs, json... Returns the new ids in ARGV order; one script, so
   * the batch is stored whole (ids as in `queueEnqueue`).
   */
  queueEnqueueMany: {
    numberOfKeys: 4,
    lua: `${NOW}
      local at = string.format('%d', now + tonumber(ARGV[1]))
      local meta = '0:' .. string.format('%d', now)
      local ids = {}
      for i = 2, #ARGV do
        local id = string.format('%016d', redis.call('INCR', KEYS[4]))
        redis.call('HSET', KEYS[2], id, ARGV[i])
        redis.call('HSET', KEYS[3], id, meta)
        redis.call('ZADD', KEYS[1], at, id)
        ids[#ids + 1] = id
      end
      return ids`,
  },
  /**
   * KEYS: due, payloads, meta. ARGV: max, leaseMs. Returns a flat list [id, json, meta, ...] of the leased items:
   * the due ones (score <= now) are re-scored to now + lease, which hides them from every other claimer.
   */
  queueClaim: {
    numberOfKeys: 3,
    lua: `${NOW}
      local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
      local until_ = string.format('%d', now + tonumber(ARGV[2]))
      local out = {}
      for _, id in ipairs(ids) do
        redis.call('ZADD', KEYS[1], until_, id)
        out[#out + 1] = id
        out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
        out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
      end
      return out`,
  },
  /** KEYS: due, payloads, meta. ARGV: id. Returns 1 when the item existed. */
  queueAck: {
    numberOfKeys: 3,
    lua: `local n = redis.call('ZREM', KEYS[1], ARGV[1])
      redis.call('HDEL', KEYS[2], ARGV[1])
      redis.call('HDEL', KEYS[3], ARGV[1])
      return n`,
  },
  /** KEYS: due, payloads, meta. ARGV: id... Returns how many of the items existed. */
  queueAckMany: {
    numberOfKeys: 3,
    lua: `local n = 0
      for i = 1, #ARGV do
        n = n + redis.call('ZREM', KEYS[1], ARGV[i])
        redis.call('HDEL', KEYS[2], ARGV[i])
        redis.call('HDEL', KEYS[3], ARGV[i])
      end
      return n`,
  },
  /** KEYS: due, meta. ARGV: id, delayMs. Returns 1 when the item existed; bumps its attempts and reschedules it. */
  queueRetry: {
    numberOfKeys: 2,
    lua: `if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
      ${NOW}
      local attempts, enqueued = string.match(redis.call('HGET', KEYS[2], ARGV[1]) or '0:0', '^(%d+):(%d+)$')
      redis.call('HSET', KEYS[2], ARGV[1], (tonumber(attempts) + 1) .. ':' .. enqueued)
      redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
      return 1`,
  },
  /**
   * KEYS: due. ARGV: delayMs, id... Returns how many of the items existed and re-scores those to now + delay (the
   * zero-padded ids keep enqueue order among equal scores); an id acked meanwhile is not re-added.
   */
  queueRelease: {
    numberOfKeys: 1,
    lua: `${NOW}
      local at = string.format('%d', now + tonumber(ARGV[1]))
      local n = 0
      for i = 2, #ARGV do
        if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
          redis.call('ZADD', KEYS[1], 'XX', at, ARGV[i])
          n = n + 1
        end
      end
      return n`,
  },
} satisfies Record<string, ScriptDefinition>;
