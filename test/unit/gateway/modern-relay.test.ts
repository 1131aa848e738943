import { describe, expect, it } from '@jest/globals';
import { MissingRequiredClientCapabilityError, ProtocolError, type ServerContext } from '@modelcontextprotocol/server';
import { requestInRounds, requiresTasks, upstreamCapabilities } from '../../../server/gateway/modern-relay.js';
import type { UpstreamConnection } from '../../../server/gateway/upstream.js';

const TASKS = 'io.modelcontextprotocol/tasks';
const APPS = 'io.modelcontextprotocol/ui';

describe('upstreamCapabilities', () => {
  const caller = {
    elicitation: { form: {} },
    sampling: {},
    roots: { listChanged: true },
    experimental: { secret: {} },
    extensions: { [TASKS]: {}, [APPS]: { mimeTypes: ['text/html'] } },
  };

  it("passes on what the gateway relays of the caller's own: elicitation, sampling, its extensions but tasks", () => {
    expect(upstreamCapabilities(caller, { roots: false, withTasks: false })).toEqual({
      elicitation: { form: {} },
      sampling: {},
      extensions: { [APPS]: { mimeTypes: ['text/html'] } },
    });
  });

  it('roots only for an entry that relays them; tasks only when the gateway follows the task', () => {
    expect(upstreamCapabilities(caller, { roots: true, withTasks: true })).toEqual({
      elicitation: { form: {} },
      sampling: {},
      roots: { listChanged: true },
      extensions: { [APPS]: { mimeTypes: ['text/html'] }, [TASKS]: {} },
    });
    expect(upstreamCapabilities({ extensions: { [TASKS]: {} } }, { roots: true, withTasks: false })).toEqual({});
  });

  it('declares nothing for a caller that declared nothing', () => {
    expect(upstreamCapabilities(undefined, { roots: true, withTasks: false })).toEqual({});
    expect(upstreamCapabilities({}, { roots: false, withTasks: true })).toEqual({ extensions: { [TASKS]: {} } });
  });
});

describe('requiresTasks', () => {
  it('is true only for -32021 naming the tasks extension', () => {
    expect(requiresTasks(new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS]: {} } } }))).toBe(true);
    expect(requiresTasks(new MissingRequiredClientCapabilityError({ requiredCapabilities: { sampling: {} } }))).toBe(false);
    expect(requiresTasks(new ProtocolError(-32602, 'bad', { requiredCapabilities: { extensions: { [TASKS]: {} } } }))).toBe(false);
    expect(requiresTasks(new Error('-32021'))).toBe(false);
  });
});

describe('requestInRounds against an upstream that keeps asking', () => {
  /** A 2026-07-28 connection whose every answer is `answer`, and the questions put to the caller. */
  function asking(answer: unknown) {
    const asked: unknown[] = [];
    let legs = 0;
    const connection = {
      hold: () => () => undefined,
      client: {
        request: async () => {
          legs += 1;
          return answer;
        },
      },
    } as unknown as UpstreamConnection;
    const ctx = {
      mcpReq: {
        signal: new AbortController().signal,
        requestState: () => undefined,
        elicitInput: async (params: unknown) => {
          asked.push(params);
          return { action: 'decline' };
        },
      },
    } as unknown as ServerContext;
    const run = () =>
      requestInRounds(connection, {
        method: 'tools/call',
        params: { name: 'x', arguments: {} },
        schema: { '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } },
        options: {},
        capabilities: {},
        ctx,
      });
    return { run, asked, legs: () => legs };
  }
  const elicit = { method: 'elicitation/create', params: { message: 'q', requestedSchema: { type: 'object', properties: {} } } };

  it('refuses a round of more than 64 input requests before asking anyone', async () => {
    const inputRequests = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, elicit]));
    const { run, asked } = asking({ resultType: 'input_required', inputRequests, requestState: 's' });
    await expect(run()).rejects.toThrow('the upstream asked for 65 inputs in one round (at most 64 are relayed)');
    expect(asked).toHaveLength(0);
  });

  it('gives up after 16 rounds of an upstream that asks again whatever it is told', async () => {
    const { run, asked, legs } = asking({ resultType: 'input_required', inputRequests: { k: elicit }, requestState: 's' });
    await expect(run()).rejects.toThrow('the upstream still asked for input after 16 rounds');
    expect([legs(), asked.length]).toEqual([16, 15]);
  });
});
