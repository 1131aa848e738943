import type { Config } from '../config/schema.js';
import type { Storage } from '../storage/types.js';
import { configuredEndpoints, isDisabled, listDeadLetters, queueOf, replayDeadLetter } from '../webhooks/webhook-service.js';
import type { CommandResult } from './background.js';

/** What the `webhooks` commands work on: the configured endpoints and the server's storage (outbox, dead letters). */
export interface WebhookCommandContext {
  config: Config;
  storage: Storage;
}

/** `webhooks list`: each endpoint with its state and outbox depth. */
export async function webhooksList({ config, storage }: WebhookCommandContext): Promise<CommandResult> {
  const endpoints = configuredEndpoints(config);
  if (endpoints.length === 0) return { code: 0, message: 'No webhook endpoints configured (WEBHOOK_URL or webhookEndpoints).' };
  const lines = ['ID            STATE      QUEUED  EVENTS  URL'];
  for (const endpoint of endpoints) {
    const state = !endpoint.enabled ? 'off' : (await isDisabled(storage, endpoint.id)) ? 'gone(410)' : 'on';
    const queued = await storage.size(queueOf(endpoint));
    lines.push(
      `${endpoint.id}  ${state.padEnd(9)}  ${String(queued).padStart(6)}  ${(endpoint.events.length ? endpoint.events.join(',') : 'all').padEnd(6)}  ${endpoint.url}`,
    );
  }
  return { code: 0, message: lines.join('\n') };
}

/** `webhooks dlq`: dead-lettered deliveries, newest first. */
export async function webhooksDlq({ storage }: WebhookCommandContext): Promise<CommandResult> {
  const letters = await listDeadLetters(storage);
  if (letters.length === 0) return { code: 0, message: 'The dead-letter list is empty.' };
  const lines = letters.map(
    ({ letter }) =>
      `${letter.payload.id}  ${letter.payload.type}  ${letter.deadAt}  attempts=${letter.attempts}  ${letter.url}  ${letter.reason}`,
  );
  return { code: 0, message: lines.join('\n') };
}

/** `webhooks replay <id>`: puts the dead letters of that event id back in the outbox (the running server delivers them). */
export async function webhooksReplay({ storage }: WebhookCommandContext, id: string): Promise<CommandResult> {
  const count = await replayDeadLetter(storage, id);
  return count
    ? { code: 0, message: `Requeued ${count} delivery(ies) of ${id}.` }
    : { code: 1, message: `No dead letter with id ${id} (see \`webhooks dlq\`).` };
}
