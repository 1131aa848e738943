import { Redis } from 'ioredis';

/** Messages between replicas: Redis pub/sub on two connections of its own (a subscribed connection can do nothing else). */
export interface ReplicaBus {
  /**
   * Sends `message` to whoever listens on `channel` now (fire and forget, in order per sender); resolves with how many
   * listeners got it (0: nobody listens there any more, e.g. a replica that died).
   */
  publish(channel: string, message: string): Promise<number>;
  /** Listens on `channel`; resolves once Redis confirmed the subscription. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link createRedisBus}. */
export interface RedisBusOptions {
  url: string;
  /** Put in front of every channel (REDIS_KEY_PREFIX), so deployments sharing a Redis never hear each other. */
  prefix: string;
  onError?: (error: Error) => void;
}

/** A {@link ReplicaBus} on Redis pub/sub. */
export function createRedisBus({ url, prefix, onError }: RedisBusOptions): ReplicaBus {
  const connect = () => {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000 });
    redis.on('error', (error: Error) => onError?.(error));
    return redis;
  };
  const publisher = connect();
  const subscriber = connect();
  const handlers = new Map<string, (message: string) => void>();
  subscriber.on('message', (channel: string, message: string) => handlers.get(channel)?.(message));
  return {
    publish(channel, message) {
      return publisher.publish(`${prefix}${channel}`, message);
    },
    async subscribe(channel, onMessage) {
      handlers.set(`${prefix}${channel}`, onMessage);
      await subscriber.subscribe(`${prefix}${channel}`);
    },
    async close() {
      handlers.clear();
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
