import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';

/** A fresh Standard Webhooks secret (`whsec_<base64>`). */
export const webhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

/** One delivery as the receiver got it. */
export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  payload: { id: string; type: string; timestamp: string; data: Record<string, unknown> };
}

/** A real webhook receiver on 127.0.0.1; `answer` decides each delivery's status (or `hang` to never answer). */
export interface Receiver {
  url: string;
  port: number;
  deliveries: Delivery[];
  /** Most requests open at once (received, not yet answered). */
  peakOpen: () => number;
  /** TCP connections the dispatcher opened. */
  connections: () => number;
  close(): Promise<void>;
}

/** Options of {@link startReceiver}. */
export interface ReceiverOptions {
  /** Delay before each answer. */
  answerAfterMs?: number;
}

/** Starts a {@link Receiver} on `port` (0: a free one). */
export async function startReceiver(
  answer: (delivery: Delivery, index: number) => number | 'hang' = () => 204,
  port = 0,
  { answerAfterMs = 0 }: ReceiverOptions = {},
): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  let open = 0;
  let peakOpen = 0;
  let connections = 0;
  const server: Server = createHttpServer((req, res) => {
    let body = '';
    open += 1;
    peakOpen = Math.max(peakOpen, open);
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const delivery: Delivery = { headers: req.headers, body, payload: JSON.parse(body) as Delivery['payload'] };
      deliveries.push(delivery);
      const status = answer(delivery, deliveries.length - 1);
      if (status === 'hang') return;
      setTimeout(() => {
        open -= 1;
        res.statusCode = status;
        res.end();
      }, answerAfterMs);
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/hook`,
    port: bound,
    deliveries,
    peakOpen: () => peakOpen,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * An endpoint that is down but still reachable: a TCP listener that counts every connection and resets it at once,
 * so each delivery attempt is one counted connection that fails. {@link DeadEndpoint.close} frees the port for a
 * {@link startReceiver} on the same one.
 */
export interface DeadEndpoint {
  port: number;
  url: string;
  /** Epoch ms of each connection, in order. */
  attempts: number[];
  close(): Promise<void>;
}

/** Starts a {@link DeadEndpoint} on 127.0.0.1 (port 0: a free one). */
export async function startDeadEndpoint(port = 0): Promise<DeadEndpoint> {
  const attempts: number[] = [];
  const server = createTcpServer((socket) => {
    attempts.push(Date.now());
    socket.on('error', () => undefined);
    socket.resetAndDestroy();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}/hook`,
    attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Deliveries grouped by `webhook-id`: how many distinct events arrived, and how many arrived more than once. */
export function deliveryCounts(deliveries: readonly Delivery[]): { distinct: number; duplicates: number; byId: Map<string, Delivery[]> } {
  const byId = new Map<string, Delivery[]>();
  for (const delivery of deliveries) {
    const id = String(delivery.headers['webhook-id']);
    byId.set(id, [...(byId.get(id) ?? []), delivery]);
  }
  return { distinct: byId.size, duplicates: deliveries.length - byId.size, byId };
}
