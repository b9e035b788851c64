import { SwitchboardError, type Destination } from '@switchboard/core';
import { assertValidDestination, decodeDottedBase, encodeNameBase, fifoToken, groupQueueName, physicalName } from '@switchboard/sqs';

function rejection(d: Destination, prefix = '', fifo = false): SwitchboardError | undefined {
  try {
    assertValidDestination(d, prefix, fifo);
    return undefined;
  } catch (e) {
    return e as SwitchboardError;
  }
}

/** Every string of length 1..n over the alphabet. */
function allStrings(alphabet: string, n: number): string[] {
  let level = [''];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    level = level.flatMap((s) => [...alphabet].map((c) => s + c));
    out.push(...level);
  }
  return out;
}

/** Checks that no two keys share a value; returns the number of distinct values. */
function expectInjective(entries: [string, string][]): number {
  const seen = new Map<string, string>();
  for (const [from, to] of entries) {
    const other = seen.get(to);
    if (other !== undefined && other !== from) throw new Error(`${other} and ${from} both map to ${to}`);
    seen.set(to, from);
  }
  return seen.size;
}

describe('names - destination validation and mapping', () => {
  it('keeps names without periods as they are (queues created by older versions or outside Switchboard stay reachable)', () => {
    for (const name of ['orders', 'orders_created', 'a-b', 'Ab', 'ab', 'x_y', 'sb-conf-x-1', 'q'.repeat(80)]) {
      expect(assertValidDestination({ kind: 'queue', name })).toEqual({ name, fifo: false });
      expect(assertValidDestination({ kind: 'topic', name })).toEqual({ name, fifo: false });
    }
    expect(physicalName('a', 'p-')).toEqual({ name: 'p-a', fifo: false });
    expect(physicalName('orders.fifo')).toEqual({ name: 'orders.fifo', fifo: true });
  });

  it('encodes periods with a mask of which underscores were periods, never as a plain underscore', () => {
    expect(physicalName('x.y')).toEqual({ name: 'x_y_dot1', fifo: false });
    expect(physicalName('orders.dlq')).toEqual({ name: 'orders_dlq_dot1', fifo: false });
    expect(physicalName('a_b.c')).toEqual({ name: 'a_b_c_dot2', fifo: false });
    expect(physicalName('a.b_c')).toEqual({ name: 'a_b_c_dot1', fifo: false });
    expect(physicalName('a.b.c')).toEqual({ name: 'a_b_c_dot3', fifo: false });
    expect(physicalName('orders.v1.fifo')).toEqual({ name: 'orders_v1_dot1.fifo', fifo: true });
    expect(physicalName('x.y', 'p_', true)).toEqual({ name: 'p_x_y_dot1.fifo', fifo: true });
  });

  it('decodes every encoded name back to the name with periods', () => {
    for (const base of allStrings('a._', 7).filter((s) => s.includes('.'))) {
      expect(decodeDottedBase(encodeNameBase(base))).toBe(base);
    }
    expect(decodeDottedBase('x_y')).toBeUndefined();
    expect(decodeDottedBase('cat_dot1')).toBeUndefined(); // no underscore for the mask to point at
    expect(decodeDottedBase('a_b_dot01')).toBeUndefined(); // not canonical
    expect(decodeDottedBase('a_b_dot2')).toBeUndefined(); // the mask points past the underscores
  });

  it.each(['bad name', 'slash/name', 'star*', 'x'.repeat(81), 'ünïcode'])('rejects the queue name %j with invalid_argument', (name) => {
    expect(rejection({ kind: 'queue', name })).toBeInstanceOf(SwitchboardError);
    expect(rejection({ kind: 'queue', name })?.code).toBe('invalid_argument');
  });

  it('allows 256-character topic names but 80-character queue names, counting what is added', () => {
    expect(assertValidDestination({ kind: 'topic', name: 't'.repeat(256) }).name).toHaveLength(256);
    expect(rejection({ kind: 'queue', name: 'q'.repeat(81) })?.code).toBe('invalid_argument');
    expect(rejection({ kind: 'queue', name: 'q'.repeat(78) }, 'abc')?.message).toMatch(/81 characters, over the 80-character limit.*the prefix "abc"/);
    // x.y is stored as x_y_dot1: the encoded form counts.
    expect(assertValidDestination({ kind: 'queue', name: `${'q'.repeat(73)}.y` }).name).toHaveLength(80);
    const long = rejection({ kind: 'queue', name: `${'q'.repeat(74)}.y` });
    expect(long?.code).toBe('invalid_argument');
    expect(long?.message).toMatch(/stored as "q+_y_dot1", 81 characters.*"_dot<mask>" that encodes periods/);
  });

  it('refuses a name that has the form of an encoded one, naming the name stored there', () => {
    for (const kind of ['queue', 'topic'] as const) {
      const e = rejection({ kind, name: 'x_y_dot1' });
      expect(e?.code).toBe('invalid_argument');
      expect(e?.message).toMatch(/where "x\.y" is stored/);
      expect(rejection({ kind, name: 'a_b_c_dot1.fifo' })?.message).toMatch(/where "a\.b_c\.fifo" is stored/);
    }
    // Not images of any name with periods: allowed.
    for (const name of ['cat_dot1', 'x_dot', 'x_y_dotz', 'x_y_dot2', 'x_y_DOT1']) expect(rejection({ kind: 'queue', name })).toBeUndefined();
  });

  it('refuses queue names that could be a group queue or a reply queue', () => {
    const sep = rejection({ kind: 'queue', name: 'events--billing' });
    expect(sep?.code).toBe('invalid_argument');
    expect(sep?.message).toMatch(/"--" is reserved.*topic "a" group "b" is the queue "a--b"/);
    expect(rejection({ kind: 'queue', name: 'sb-reply-0123456789abcdef0123' })?.message).toMatch(/reply queues/);
    // Topics live in SNS, a namespace of their own.
    expect(rejection({ kind: 'topic', name: 'a--b' })).toBeUndefined();
    expect(rejection({ kind: 'topic', name: 'sb-reply-x' })).toBeUndefined();
  });

  it('maps distinct names to distinct queues and topics (every name of length 1-5 over "a", "A", "_", "-", ".")', () => {
    const names = allStrings('aA_-.', 5);
    for (const kind of ['queue', 'topic'] as const) {
      for (const [prefix, fifo] of [['', false], ['p-', false], ['', true]] as const) {
        const accepted = names.filter((name) => !rejection({ kind, name }, prefix, fifo));
        expect(accepted.length).toBeGreaterThan(names.length / 2);
        expectInjective(accepted.map((name) => [name, assertValidDestination({ kind, name }, prefix, fifo).name]));
      }
    }
  });

  it('maps the tricky pairs apart or refuses one of them up front', () => {
    const pairs: [string, string][] = [
      ['x.y', 'x_y'],
      ['x.y', 'x-y'],
      ['x_y', 'x-y'],
      ['Ab', 'ab'],
      ['a.b.c', 'a_b.c'],
      ['x.y', 'x_y_dot1'],
      ['x.fifo', 'x_fifo'],
      ['x.fifo', 'x'],
      [`${'l'.repeat(79)}a`, `${'l'.repeat(79)}b`],
      [`${'l'.repeat(70)}.a`, `${'l'.repeat(70)}.b`],
    ];
    for (const [a, b] of pairs) {
      for (const fifo of [false, true]) {
        const pa = rejection({ kind: 'queue', name: a }, '', fifo) ? undefined : assertValidDestination({ kind: 'queue', name: a }, '', fifo).name;
        const pb = rejection({ kind: 'queue', name: b }, '', fifo) ? undefined : assertValidDestination({ kind: 'queue', name: b }, '', fifo).name;
        if (pa !== undefined && pb !== undefined) expect(pa).not.toBe(pb);
      }
    }
  });

  it('derives deterministic, valid group queue names; existing ones keep their queue', () => {
    const t = physicalName('events');
    expect(groupQueueName(t, 'billing').name).toBe('events--billing');
    const long = groupQueueName(physicalName('t'.repeat(200)), 'group with spaces');
    expect(long.name.length).toBeLessThanOrEqual(80);
    expect(long.name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(groupQueueName(physicalName('t'.repeat(200)), 'group with spaces')).toEqual(long);
    expect(groupQueueName(physicalName('t'.repeat(200)), 'group with spaces!').name).not.toBe(long.name);
    // The names earlier versions gave (their messages stay readable).
    expect(long.name).toBe('ttttttttttttttttttttttttttttttttttttttttt--group_with_spaces-b93417af10');
    expect(groupQueueName(physicalName('orders.fifo'), 'g h')).toEqual({ name: 'orders--g_h-01c6e0613c.fifo', fifo: true });
    expect(groupQueueName(physicalName('e', 'p-'), 'x'.repeat(90)).name).toBe(`p-e--${'x'.repeat(64)}-56e8689552`);
    expect(groupQueueName(physicalName('e.fifo'), 'g')).toEqual({ name: 'e--g.fifo', fifo: true });
  });

  it('gives every (topic, group) pair its own queue, none of them a user queue', () => {
    // Topics over "a", ".", "-", "_" (including "--" and trailing "-"), groups with the characters that blur "--".
    const topics = allStrings('a.-_', 4).filter((t) => !rejection({ kind: 'topic', name: t }));
    const groups = [...allStrings('a-_', 4), 'a b', 'a.b', '-', '--', 'a--', '0123456789', 'x-0123456789', 'ab0123456789'];
    const queues = allStrings('a.-_', 5).filter((q) => !rejection({ kind: 'queue', name: q }));
    for (const fifo of [false, true]) {
      const entries: [string, string][] = queues.map((q) => [`queue:${q}`, assertValidDestination({ kind: 'queue', name: q }, '', fifo).name]);
      for (const t of topics) {
        const tp = assertValidDestination({ kind: 'topic', name: t }, '', fifo);
        for (const g of groups) {
          const gq = groupQueueName(tp, g);
          if (gq.name.length > 80 || !/^[A-Za-z0-9_-]+(\.fifo)?$/.test(gq.name)) throw new Error(`topic ${t} group ${g}: invalid queue name ${gq.name}`);
          entries.push([`topic:${t} group:${g}`, gq.name]);
        }
      }
      expectInjective(entries);
    }
    // The composites of the issue.
    expect(groupQueueName(physicalName('a.b'), 'c').name).not.toBe(groupQueueName(physicalName('a'), 'b.c').name);
    expect(groupQueueName(physicalName('a'), 'b--c').name).not.toBe(groupQueueName(physicalName('a--b'), 'c').name);
    expect(groupQueueName(physicalName('a-'), 'b').name).not.toBe(groupQueueName(physicalName('a'), '-b').name);
  });

  it('makes FIFO tokens from any id', () => {
    expect(fifoToken('abc-123')).toBe('abc-123');
    expect(fifoToken('with space')).toMatch(/^[0-9a-f]{64}$/);
    expect(fifoToken('x'.repeat(200))).toHaveLength(64);
  });
});

describe('names - FIFO mode', () => {
  it('appends .fifo to every name and counts it against the limit', () => {
    expect(assertValidDestination({ kind: 'queue', name: 'orders' }, '', true)).toEqual({ name: 'orders.fifo', fifo: true });
    expect(rejection({ kind: 'queue', name: 'q'.repeat(76) }, '', true)?.code).toBe('invalid_argument');
    expect(assertValidDestination({ kind: 'queue', name: 'q'.repeat(75) }, '', true).name).toHaveLength(80);
  });

  it('refuses a name ending in .fifo, which would share the queue of the name without it', () => {
    const e = rejection({ kind: 'queue', name: 'orders.fifo' }, '', true);
    expect(e?.code).toBe('invalid_argument');
    expect(e?.message).toMatch(/would share the SQS queue of "orders": use "orders"/);
    expect(rejection({ kind: 'topic', name: 'events.fifo' }, '', true)?.code).toBe('invalid_argument');
  });
});
