import { describe, expect, it } from '@jest/globals';
import { assignNames, exposedUri, upstreamUri, validName } from '../../../server/gateway/naming.js';

describe('gateway tool names', () => {
  it('keeps valid names, replaces invalid characters and shortens long names deterministically with a hash', () => {
    expect(validName('memory__read_graph')).toBe('memory__read_graph');
    expect(validName('fs__read file/x')).toBe('fs__read_file_x');
    const long = `github__${'very_long_tool_name_'.repeat(5)}`;
    const short = validName(long);
    expect(short).toHaveLength(64);
    expect(short).toMatch(/^github__very_long.*_[0-9a-f]{8}$/);
    expect(validName(long)).toBe(short);
    expect(validName(`${long}x`)).not.toBe(short);
  });

  it('resolves collisions the same way whatever order the upstreams report in', () => {
    const requests = [
      { server: 'a', prefix: 'a', name: 'do thing' },
      { server: 'a', prefix: 'a', name: 'do_thing' },
      { server: 'b', prefix: 'b', name: 'x' },
    ];
    const forward = assignNames(requests);
    const backward = assignNames([...requests].reverse());
    expect([...forward.names.keys()]).toEqual([...backward.names.keys()]);
    expect(forward.collisions).toHaveLength(1);
    expect(forward.names.get('a__do_thing')).toEqual(requests[0]);
    const renamed = forward.collisions[0]!.as;
    expect(renamed).toMatch(/^a__do_thing_[0-9a-f]{8}$/);
    expect(forward.names.get(renamed)).toEqual(requests[1]);
    expect(forward.names.get('b__x')).toEqual(requests[2]);
  });

  it('an unprefixed upstream never takes a name from the server its prefix names, whatever the server names', () => {
    // `aaa` sorts before `bank`, and lists a tool named like one of bank's.
    const requests = [
      { server: 'aaa', prefix: undefined, name: 'bank__transfer' },
      { server: 'bank', prefix: 'bank', name: 'transfer' },
      { server: 'aaa', prefix: undefined, name: 'search' },
    ];
    for (const order of [requests, [...requests].reverse()]) {
      const { names, collisions } = assignNames(order);
      expect(names.get('bank__transfer')).toEqual(requests[1]);
      expect(names.get('search')).toEqual(requests[2]);
      expect(collisions).toEqual([expect.objectContaining({ name: 'bank__transfer', renamed: requests[0] })]);
      expect(collisions[0]!.as).toMatch(/^bank__transfer_[0-9a-f]{8}$/);
    }
  });

  it('keeps the ui:// scheme of MCP Apps resources, puts the server in front of any other scheme, and leads back', () => {
    const cases = [
      ['clock', 'ui://get-time/mcp-app.html', 'ui://clock/get-time/mcp-app.html'],
      ['fx', 'ui://card/7', 'ui://fx/card/7'],
      ['my_server.v2', 'ui://x', 'ui://my_server.v2/x'],
      ['fx', 'fixture://note', 'fx+fixture://note'],
      ['fx', 'git+https://example.com/a+b', 'fx+git+https://example.com/a+b'],
      ['fx', 'urn:isbn:123', 'fx+urn:isbn:123'],
    ] as const;
    for (const [prefix, uri, exposed] of cases) {
      expect(exposedUri(prefix, uri)).toBe(exposed);
      expect(upstreamUri(exposed)).toEqual({ prefix, uri });
      // A valid URI whose scheme a host recognises: `new URL` keeps it as it is.
      expect(new URL(exposed).href).toBe(exposed);
    }
    // Templates are namespaced alike.
    expect(exposedUri('fx', 'ui://card/{id}')).toBe('ui://fx/card/{id}');
    expect(upstreamUri('ui://nothing-behind')).toBeUndefined();
    expect(upstreamUri('fixture://note')).toBeUndefined();
  });
});
