import { z } from 'zod';
import type { BusEvent, EventType } from '../events/bus.js';

const transport = z.enum(['streamable-http', 'sse', 'stdio']);
const usage = z.object({
  inputTokens: z.number(),
  outputTokens: z.number(),
  cacheReadInputTokens: z.number(),
  cacheCreationInputTokens: z.number(),
});

/**
 * Every webhook event type and the JSON schema of its `data`. The catalogue is the contract with consumers:
 * docs/webhooks.md is generated from it (a test fails when it is stale), and new fields are only ever added.
 */
export const WEBHOOK_EVENTS = {
  'tool.called': z
    .object({ tool: z.string(), clientId: z.string(), sessionId: z.string().optional() })
    .describe('A Claude tool call began.'),
  'tool.completed': z
    .object({
      tool: z.string(),
      clientId: z.string(),
      durationMs: z.number(),
      sessionId: z.string().optional(),
      costUsd: z.number().optional(),
      numTurns: z.number().optional(),
      model: z.string().optional(),
      usage: usage.optional(),
    })
    .describe('A Claude tool call returned a result.'),
  'tool.error': z
    .object({
      tool: z.string(),
      clientId: z.string(),
      durationMs: z.number(),
      category: z.string(),
      message: z.string(),
      sessionId: z.string().optional(),
      costUsd: z.number().optional(),
    })
    .describe('A Claude tool call failed; `category` is the error category returned to the client.'),
  'session.started': z
    .object({ sessionId: z.string(), transport, protocolVersion: z.string().optional(), clientId: z.string().optional() })
    .describe('An MCP session opened.'),
  'session.ended': z
    .object({
      sessionId: z.string(),
      transport,
      reason: z.enum(['closed', 'deleted', 'idle', 'shutdown', 'disconnected']),
      durationMs: z.number(),
      clientId: z.string().optional(),
    })
    .describe('An MCP session ended.'),
  'checkpoint.created': z
    .object({ checkpointId: z.string(), sessionId: z.string(), clientId: z.string(), files: z.number() })
    .describe('A checkpoint of a Claude session was taken.'),
  'checkpoint.restored': z
    .object({ checkpointId: z.string(), sessionId: z.string(), clientId: z.string(), written: z.number(), removed: z.number() })
    .describe('A checkpoint was restored.'),
  'background_task.started': z
    .object({ taskId: z.string(), clientId: z.string() })
    .describe('A task started (or restarted): a `backgroundTask`, or a Claude call made as an MCP task (2025-11-25 or 2026-07-28).'),
  'background_task.completed': z
    .object({ taskId: z.string(), clientId: z.string(), costUsd: z.number(), durationMs: z.number() })
    .describe('A task finished successfully.'),
  'background_task.failed': z
    .object({ taskId: z.string(), clientId: z.string(), category: z.string(), status: z.string() })
    .describe('A task failed (`status` failed), was cancelled (`aborted`) or was interrupted by a shutdown or crash (`interrupted`).'),
  'rate_limit.exceeded': z
    .object({
      scope: z.enum(['client', 'tool', 'global', 'oauth']),
      retryAfterSeconds: z.number(),
      clientId: z.string().optional(),
      tool: z.string().optional(),
    })
    .describe('A rate limit refused a request.'),
  'server.started': z
    .object({ version: z.string(), url: z.string(), transports: z.array(z.string()), pid: z.number() })
    .describe('The server started listening.'),
  'server.shutdown': z.object({ reason: z.string(), uptimeSeconds: z.number() }).describe('The server began shutting down.'),
  'upstream.down': z.object({ server: z.string(), reason: z.string() }).describe('A gateway upstream went away.'),
  'upstream.up': z
    .object({ server: z.string(), tools: z.number(), pid: z.number().optional() })
    .describe('A gateway upstream is up and serving.'),
  'upstream.restarted': z
    .object({ server: z.string(), restartCount: z.number() })
    .describe('A gateway upstream came back after a restart.'),
  'oauth.client_registered': z
    .object({ clientId: z.string(), clientName: z.string().optional(), authMethod: z.string() })
    .describe('A new OAuth client registered (RFC 7591).'),
} as const;

/** A webhook event type. */
export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;

/** The body of every delivery (Standard Webhooks: `type`, `timestamp`, `data`; `id` equals the `webhook-id` header). */
export interface WebhookPayload {
  id: string;
  type: WebhookEventType;
  /** ISO 8601, when the event happened. */
  timestamp: string;
  data: Record<string, unknown>;
}

/** Bus event types whose webhook type differs. */
const RENAMED: Partial<Record<EventType, WebhookEventType>> = { 'auth.client_registered': 'oauth.client_registered' };

/**
 * The webhook type and data of a bus event, or `undefined` for events that are not published (audit events other
 * than client registration). Internal `owner` fields are published as `clientId`.
 */
export function toWebhookEvent(event: BusEvent): { type: WebhookEventType; data: Record<string, unknown> } | undefined {
  const type = RENAMED[event.type] ?? (event.type as WebhookEventType);
  if (!(type in WEBHOOK_EVENTS)) return undefined;
  const { owner, ...rest } = event.data as Record<string, unknown> & { owner?: unknown };
  return { type, data: owner === undefined ? rest : { ...rest, clientId: owner } };
}

/** Whether an endpoint with this filter (empty: everything) receives `type`. */
export function wants(filter: readonly string[], type: string): boolean {
  return filter.length === 0 || filter.includes(type);
}
