/** One server-sent event as parsed from the wire. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
  /** Comment lines (`: keepalive`) seen before this event. */
  comments: string[];
}

/**
 * Reads SSE events from a fetch response until `until` returns true for an event, the stream ends, or `timeoutMs`
 * passes. Returns everything read; the caller decides what a timeout means. Cancels the body when done.
 */
export async function readSse(
  response: Response,
  until: (event: SseEvent, all: SseEvent[]) => boolean,
  timeoutMs: number,
): Promise<{ events: SseEvent[]; comments: string[]; ended: boolean }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let buffer = '';
  let pendingComments: string[] = [];
  let ended = false;
  const deadline = Date.now() + timeoutMs;
  try {
    outer: while (Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(1, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
      if (chunk === 'timeout') break;
      if (chunk.done) {
        ended = true;
        break;
      }
      buffer += decoder.decode(chunk.value, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const event: SseEvent = { data: '', comments: [] };
        let isEvent = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) {
            comments.push(line);
            pendingComments.push(line);
          } else if (line.startsWith('id:')) {
            event.id = line.slice(3).trim();
            isEvent = true;
          } else if (line.startsWith('event:')) {
            event.event = line.slice(6).trim();
            isEvent = true;
          } else if (line.startsWith('data:')) {
            event.data += line.slice(5).trimStart();
            isEvent = true;
          }
        }
        if (!isEvent) continue;
        event.comments = pendingComments;
        pendingComments = [];
        events.push(event);
        if (until(event, events)) break outer;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return { events, comments, ended };
}
