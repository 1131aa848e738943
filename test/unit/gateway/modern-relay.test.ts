import { describe, expect, it } from '@jest/globals';
import { MissingRequiredClientCapabilityError, ProtocolError } from '@modelcontextprotocol/server';
import { requiresTasks, upstreamCapabilities } from '../../../server/gateway/modern-relay.js';

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
