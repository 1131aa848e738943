import type { EventId, EventStore, JSONRPCMessage, StreamId } from '@modelcontextprotocol/server';

/** Bounds of a {@link BoundedEventStore}; whichever is hit first evicts the oldest events. */
export interface BoundedEventStoreOptions {
  /** Most events kept across all streams of the session. A positive integer. */
  maxEvents: number;
  /**
   * Most bytes kept across all streams: the UTF-8 length of each message's JSON plus its event and stream ids
   * (an estimate of what the events cost, not of the heap). A positive number. An event larger than this on its
   * own is evicted as soon as it is stored: it is still delivered live, but cannot be resumed from or past.
   */
  maxBytes: number;
}

/** What a {@link BoundedEventStore} holds right now. */
export interface EventStoreStats {
  /** Events currently stored. */
  events: number;
  /** Bytes currently stored, counted as described in {@link BoundedEventStoreOptions.maxBytes}. */
  bytes: number;
}

interface StoredEvent {
  /** Key in the store-wide map; also what the client sends back as `Last-Event-ID`. */
  eventId: EventId;
  /** Stream the event was stored on; replay stays within it. */
  streamId: StreamId;
  /** The message as stored, redelivered unchanged. */
  message: JSONRPCMessage;
  /** Its share of the byte bound, kept so eviction subtracts exactly what storing added. */
  bytes: number;
  /** Position within its stream: consecutive, so a gap proves an event was evicted before it was replayed. */
  streamSeq: number;
}

interface StreamLog {
  /** Events of the stream, oldest first; eviction only ever removes the head (it is global FIFO). */
  events: StoredEvent[];
  /** streamSeq of the next event stored on this stream. */
  nextStreamSeq: number;
  /** Replays reading this log: while any runs, the log is kept even when emptied, so streamSeq stays continuous. */
  replays: number;
}

/**
 * In-memory {@link EventStore} for the resumability (`Last-Event-ID`) of ONE sessionful Streamable HTTP session
 * (MCP 2025-11-25, Transports, "Resumability and Redelivery"). Construct one per session and drop it with the
 * session: ids are unique and ordered per store, not unguessable across sessions.
 *
 * Event ids are `${streamId}_${seq}` with one store-wide, strictly increasing `seq`, so they stay unique (even
 * after {@link clear}) and their suffix orders them. Lookups never parse the id: ids are map keys.
 *
 * An unknown or evicted `Last-Event-ID` cannot be resumed losslessly. {@link getStreamIdForEventId} then answers
 * `undefined`, which the SDK's `WebStandardStreamableHTTPServerTransport` (2.4.0) turns into HTTP 400
 * ("Invalid event ID format") before it calls {@link replayEventsAfter}; the client sees a clean 4xx and can
 * open a fresh GET stream. {@link replayEventsAfter} itself rejects for such ids, but the SDK answers any
 * rejection from it with a 500, which is why the lookup is implemented and must not be removed.
 */
export class BoundedEventStore implements EventStore {
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  /** Insertion order is age order: the first key is the next to evict. */
  private readonly events = new Map<EventId, StoredEvent>();
  private readonly streams = new Map<StreamId, StreamLog>();
  private seq = 0;
  private bytes = 0;

  /** @throws RangeError when a bound is not a positive number (`maxEvents` must also be an integer). */
  constructor(options: BoundedEventStoreOptions) {
    if (!Number.isSafeInteger(options.maxEvents) || options.maxEvents < 1) {
      throw new RangeError(`maxEvents: expected a positive integer, got ${String(options.maxEvents)}`);
    }
    if (!Number.isFinite(options.maxBytes) || options.maxBytes <= 0) {
      throw new RangeError(`maxBytes: expected a positive number, got ${String(options.maxBytes)}`);
    }
    this.maxEvents = options.maxEvents;
    this.maxBytes = options.maxBytes;
  }

  /** Stores `message` as the newest event of `streamId`, evicting the oldest events beyond the bounds. */
  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    return this.append(streamId, message);
  }

  /**
   * {@link storeEvent} without the promise, for a transport that writes the event in the same tick. `json`, the
   * message already serialised for the wire, saves serialising it again to count its bytes.
   */
  append(streamId: StreamId, message: JSONRPCMessage, json?: string): EventId {
    this.seq += 1;
    const eventId = `${streamId}_${this.seq}`;
    let log = this.streams.get(streamId);
    if (log === undefined) {
      log = { events: [], nextStreamSeq: 0, replays: 0 };
      this.streams.set(streamId, log);
    }
    const bytes = Buffer.byteLength(json ?? JSON.stringify(message)) + Buffer.byteLength(eventId) + Buffer.byteLength(streamId);
    const event: StoredEvent = { eventId, streamId, message, bytes, streamSeq: log.nextStreamSeq };
    log.nextStreamSeq += 1;
    log.events.push(event);
    this.events.set(eventId, event);
    this.bytes += bytes;
    this.evictBeyondBounds();
    return eventId;
  }

  /**
   * The stream `eventId` belongs to, or `undefined` when it is unknown or evicted (the SDK answers 400 then).
   */
  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.events.get(eventId)?.streamId;
  }

  /**
   * Sends, in order, every event of `lastEventId`'s stream stored after it — including events stored while the
   * replay is in progress, because the SDK does not write those to the not-yet-attached stream — and returns
   * that stream's id.
   *
   * @throws Error when `lastEventId` is unknown or evicted, or when an event still to be replayed is evicted
   *   mid-replay (more than the bounds' worth of new events during one replay). A replay with a hole would
   *   silently lose messages, so it fails instead. Errors from `send` propagate.
   */
  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const from = this.events.get(lastEventId);
    const log = from === undefined ? undefined : this.streams.get(from.streamId);
    if (from === undefined || log === undefined) {
      throw new Error(`Cannot resume: event ${JSON.stringify(lastEventId)} is unknown or was evicted`);
    }
    const { streamId } = from;
    log.replays += 1;
    try {
      let lastStreamSeq = from.streamSeq;
      for (;;) {
        // Looked up afresh each round: the await below lets new events arrive and old ones be evicted.
        const next = firstAfter(log.events, lastStreamSeq);
        // Consecutive stream positions prove nothing was evicted in between, including at the tail.
        const found = next === undefined ? log.nextStreamSeq : next.streamSeq;
        if (found !== lastStreamSeq + 1) {
          throw new Error(`Cannot resume stream ${JSON.stringify(streamId)}: events were evicted during the replay`);
        }
        if (next === undefined) return streamId;
        lastStreamSeq = next.streamSeq;
        // The SDK stores `{}` as a priming event (an id with empty data); it carries no message to redeliver.
        if (Object.keys(next.message).length > 0) await send(next.eventId, next.message);
      }
    } finally {
      log.replays -= 1;
      if (log.replays === 0 && log.events.length === 0 && this.streams.get(streamId) === log) {
        this.streams.delete(streamId);
      }
    }
  }

  /** Forgets every event. Sequence numbers keep counting, so ids handed out before stay unique. */
  clear(): void {
    // Emptied in place so that a replay in progress fails instead of sending forgotten events.
    for (const log of this.streams.values()) log.events.length = 0;
    this.events.clear();
    this.streams.clear();
    this.bytes = 0;
  }

  /** Current size, for metrics and tests. */
  stats(): EventStoreStats {
    return { events: this.events.size, bytes: this.bytes };
  }

  private evictBeyondBounds(): void {
    while (this.events.size > this.maxEvents || this.bytes > this.maxBytes) {
      const oldest = this.events.values().next().value;
      if (oldest === undefined) return;
      this.events.delete(oldest.eventId);
      this.bytes -= oldest.bytes;
      const log = this.streams.get(oldest.streamId);
      log?.events.shift();
      // An emptied stream is dropped so that sessions with many short request streams do not leak logs.
      if (log !== undefined && log.events.length === 0 && log.replays === 0) this.streams.delete(oldest.streamId);
    }
  }
}

/** The first event after `streamSeq` in a log sorted by streamSeq: a binary search, so long replays stay linear. */
function firstAfter(events: readonly StoredEvent[], streamSeq: number): StoredEvent | undefined {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (events[mid]!.streamSeq <= streamSeq) low = mid + 1;
    else high = mid;
  }
  return events[low];
}
