import { describe, expect, it } from '@jest/globals';
import { assignNames, validName } from '../../../server/gateway/naming.js';

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
});
