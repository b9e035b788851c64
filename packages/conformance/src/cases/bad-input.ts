import net from 'node:net';
import { backendForScheme, connect, defaultPortFor, parseUrl, SwitchboardError, type Destination } from '@switchboard/core';
import type { ConformanceCase } from '../case';
import { check, CheckFailure, checkRejects, sleep } from '../check';
import { Receiver } from '../receiver';
import { replaceHostPort } from './faults';

const WRONG_PASSWORD = 'sb-wrong-password-7f3a';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** B bad input: every one a typed error, before or instead of any partial effect. */
export const badInputCases: ConformanceCase[] = [
  {
    id: 'B1',
    title: 'unknown URL scheme or malformed options: a configuration error listing every problem',
    requires: [],
    async run(ctx) {
      await checkRejects(() => connect('bogus-scheme://127.0.0.1:1'), ['configuration'], 'connect() with an unknown scheme');
      const err = await checkRejects(
        () => ctx.connection.consumer(ctx.queue(), { prefetch: -1, ackMode: 'sometimes', maxAttempts: 0 } as never),
        ['configuration'],
        'consumer() with three bad options',
      );
      const problems = (err.details.problems as string[] | undefined) ?? [];
      check(problems.length >= 3, `the error should list all 3 problems, got ${problems.length}: ${JSON.stringify(problems)}`);
      for (const field of ['prefetch', 'ackMode', 'maxAttempts']) check(err.message.includes(field), `the message names "${field}": ${err.message}`);
    },
  },
  {
    id: 'B2',
    title: 'an invalid destination name: an invalid-argument error, nothing sent',
    requires: [],
    async run(ctx) {
      const p = ctx.producer();
      const bad = `bad name with spaces*>#${'x'.repeat(300)}`;
      await checkRejects(() => p.send({ kind: 'queue', name: bad }, 'x'), ['invalid_argument'], 'send to an invalid queue name');
      await checkRejects(() => p.send({ kind: 'topic', name: bad }, 'x'), ['invalid_argument'], 'send to an invalid topic name');
      await checkRejects(() => p.send({ kind: 'queue', name: '' }, 'x'), ['invalid_argument'], 'send to an empty name');
      await checkRejects(() => ctx.connection.consumer({ kind: 'queue', name: bad }), ['invalid_argument'], 'consumer of an invalid name');
    },
  },
  {
    id: 'B3',
    title: "a payload over the backend's limit: a payload-too-large error, nothing sent",
    requires: ['payloadLimit'],
    async run(ctx) {
      const q = ctx.queue();
      const r = new Receiver(await ctx.consumer(q));
      ctx.defer(() => r.close());
      const huge = new Uint8Array(130 * 1024 * 1024 + 1);
      await checkRejects(() => ctx.producer().send(q, [{ body: 'small and fine' }, { body: huge }]), ['payload_too_large'], 'a batch holding a 130 MiB message');
      await sleep(ctx.t(1500), ctx.signal);
      check(r.items.length === 0, `${r.items.length} messages of the refused batch were delivered`);
    },
  },
  {
    id: 'B4',
    title: 'any call after close(): a closed error',
    requires: [],
    async run(ctx) {
      const conn = await ctx.connect();
      const p = conn.producer();
      const c = await conn.consumer(ctx.queue());
      await c.close();
      await checkRejects(() => c.poll({ max: 1 }), ['closed'], 'poll() on a closed consumer');
      await checkRejects(() => c.subscribe(), ['closed'], 'subscribe() on a closed consumer');
      await conn.close();
      await conn.close();
      await checkRejects(() => p.send(ctx.queue(), 'late'), ['closed'], 'send() after the connection closed');
      await checkRejects(() => conn.consumer(ctx.queue()), ['closed'], 'consumer() after close()');
      await checkRejects(() => conn.producer(), ['closed'], 'producer() after close()');
    },
  },
  {
    id: 'B5',
    title: 'wrong credentials: an authentication error, not a hang',
    requires: ['authentication'],
    async run(ctx) {
      const wrong = ctx.url.replace(/^([a-z][a-z0-9+.-]*:\/\/)(?:[^@/?#]*@)?/i, `$1sb-wrong-user:${WRONG_PASSWORD}@`);
      const started = Date.now();
      const err = await checkRejects(() => connect(wrong, { ...ctx.options.connectOptions, connectTimeoutMs: 5000 }), ['auth'], 'connect() with wrong credentials');
      check(Date.now() - started < ctx.t(15_000), `the auth error took ${Date.now() - started} ms`);
      check(!`${err.message} ${JSON.stringify(err.details)}`.includes(WRONG_PASSWORD), 'the error must not contain the password');
    },
  },
  {
    id: 'B6',
    title: 'broker unreachable: a connection error within the connect timeout, not a hang',
    requires: [],
    applicable: (url) => {
      const u = parseUrl(url);
      if (backendForScheme(u.scheme) && defaultPortFor(u.scheme) === undefined) return `${u.scheme}:// is in-process: there is no network address to be unreachable`;
      return u.hosts.length > 0 ? undefined : 'the URL names no host to replace with an unreachable one';
    },
    async run(ctx) {
      const port = await closedPort();
      const unreachable = replaceHostPort(ctx.url, `127.0.0.1:${port}`);
      const connectTimeoutMs = 3000;
      const started = Date.now();
      let conn: import('@switchboard/core').Connection | undefined;
      try {
        await checkRejects(async () => {
          conn = await connect(unreachable, { ...ctx.options.connectOptions, connectTimeoutMs });
          // Lazy clients may only notice on first use.
          await conn.producer().send(ctx.queue(), 'anyone?');
        }, ['connection', 'timeout'], 'using a broker that is not there');
      } finally {
        await conn?.close().catch(() => undefined);
      }
      const took = Date.now() - started;
      check(took <= connectTimeoutMs + ctx.t(5000), `the connection error took ${took} ms with connectTimeoutMs ${connectTimeoutMs}`);
    },
  },
  {
    id: 'B7',
    title: 'distinct names never share a broker object: each pair either keeps its messages apart or is refused up front with invalid_argument',
    requires: [],
    timeoutMs: 120_000,
    async run(ctx) {
      const b = ctx.name('b7');
      const long = (n: number, last: string) => `${b}-${'n'.repeat(Math.max(0, n - b.length - 2))}${last}`;
      type End = { dest: Destination; group: string };
      const q = (name: string): End => ({ dest: { kind: 'queue', name }, group: 'g' });
      const t = (name: string, group: string): End => ({ dest: { kind: 'topic', name }, group });
      const pairs: [string, End, End][] = [
        ['. and _', q(`${b}.x`), q(`${b}_x`)],
        ['- and _', q(`${b}-y`), q(`${b}_y`)],
        ['letter case', q(`${b}Ab`), q(`${b}ab`)],
        ['104 characters, the last differs', q(long(104, '1')), q(long(104, '2'))],
        ['240 characters, the last differs', q(long(240, '1')), q(long(240, '2'))],
        ['topic+group composites', t(`${b}.a`, 'c'), t(b, 'a.c')],
        ['a queue and a topic of one name', q(`${b}-qt`), t(`${b}-qt`, 'g')],
        ['groups differing in . and _', t(`${b}-tg`, 'x.y'), t(`${b}-tg`, 'x_y')],
        ['a queue named like a topic group: --', q(`${b}-c1--g`), t(`${b}-c1`, 'g')],
        ['a queue named like a topic group: @', q(`${b}-c2@g`), t(`${b}-c2`, 'g')],
        ['a queue named like a topic group: .', q(`${b}-c3.g`), t(`${b}-c3`, 'g')],
      ];
      const label = (e: End) => `${e.dest.kind}:${e.dest.name.length > 40 ? `${e.dest.name.slice(0, 20)}...${e.dest.name.slice(-8)} (${e.dest.name.length} chars)` : e.dest.name}${e.dest.kind === 'topic' ? ` group ${e.group}` : ''}`;
      const p = ctx.producer();
      const refused: string[] = [];
      /** Opens a consumer, or records an up-front refusal; anything but invalid_argument fails the case. */
      const open = async (e: End): Promise<Receiver | undefined> => {
        try {
          const r = new Receiver(await ctx.consumer(e.dest, { group: e.group }));
          ctx.defer(() => r.close());
          return r;
        } catch (err) {
          if (err instanceof SwitchboardError && err.code === 'invalid_argument') {
            refused.push(`${label(e)}: ${err.message}`);
            return undefined;
          }
          throw new CheckFailure(`consumer of ${label(e)}: expected it to work or an invalid_argument error, got ${err instanceof SwitchboardError ? `"${err.code}": ${err.message}` : String(err)}`);
        }
      };
      const K = 6;
      await Promise.all(
        pairs.map(async ([what, e1, e2], pi) => {
          const receivers = [await open(e1), await open(e2)];
          const sent: string[][] = [[], []];
          for (const [i, e] of [e1, e2].entries()) {
            if (!receivers[i]) continue;
            const batch = Array.from({ length: K }, (_, k) => ({ id: `${b}-p${pi}-e${i}-${k}`, body: `pair ${pi} end ${i} #${k}` }));
            await checkSends(() => p.send(e.dest, batch), `send to ${label(e)}`);
            sent[i] = batch.map((m) => m.id);
          }
          // What each consumer must get: everything sent to its own destination (two groups of one
          // topic both get all of it), and nothing sent to the other one.
          const same = e1.dest.kind === e2.dest.kind && e1.dest.name === e2.dest.name;
          const expected = [0, 1].map((i) => (same ? [...sent[0]!, ...sent[1]!] : sent[i]!));
          for (const [i, r] of receivers.entries()) {
            if (!r) continue;
            const other = receivers[1 - i] ? `${label([e1, e2][1 - i]!)}` : 'nothing';
            const mine = expected[i]!;
            await r.waitFor(
              (x) => mine.every((id) => x.uniqueIds().has(id)),
              ctx.t(30_000),
              `${what}: all ${mine.length} messages for ${label([e1, e2][i]!)} at its consumer (got ${mine.filter((id) => r.uniqueIds().has(id)).length}, and ${r.ids().filter((id) => !mine.includes(id)).length} foreign ones; it may share a broker object with ${other})`,
              ctx.signal,
            );
          }
          await sleep(ctx.t(1000), ctx.signal);
          for (const [i, r] of receivers.entries()) if (r) r.checkOnly(new Set(expected[i]), `${what}: the consumer of ${label([e1, e2][i]!)}`);
        }),
      );
      for (const line of refused) ctx.note(`refused: ${line}`);
    },
  },
];

/** A send either works or is refused with invalid_argument; anything else fails the case. */
async function checkSends(send: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await send();
  } catch (err) {
    throw new CheckFailure(`${what}: a consumer of this name opened, so sending to it must work; got ${err instanceof SwitchboardError ? `"${err.code}": ${err.message}` : String(err)}`);
  }
}
