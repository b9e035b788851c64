import { backendForScheme, parseUrl, type Delivery, type Destination } from '@switchboard/core';
import type { CaseContext, ConformanceCase, SuiteOptions } from '../case';
import { check, checkEqual, sleep } from '../check';
import type { ForeignClient, ForeignSide } from '../foreign';
import { Receiver } from '../receiver';

/** Why IX cannot run: no foreign side was given (the CLI has none; integration-tests give one per broker). */
function noForeign(url: string, options: SuiteOptions): string | undefined {
  if (options.foreign) return undefined;
  const scheme = parseUrl(url).scheme;
  if (backendForScheme(scheme)?.name === 'memory') return 'memory:// lives inside the process: no client other than Switchboard can reach it';
  return 'no client other than Switchboard was given for this backend (integration-tests run IX with the broker\'s own client library)';
}

/** Gates on the foreign side and one of its abilities. */
const needs = (ability?: keyof Omit<ForeignSide, 'open'>) => (url: string, options: SuiteOptions): string | undefined => {
  const missing = noForeign(url, options);
  if (missing || !ability) return missing;
  const a = options.foreign![ability];
  return a === true ? undefined : a.reason;
};

async function foreignOf(ctx: CaseContext): Promise<ForeignClient> {
  const f = await ctx.options.foreign!.open(ctx.url);
  ctx.defer(() => f.close());
  return f;
}

/** Bytes that are not valid UTF-8, so a lossy text conversion anywhere shows. */
const BINARY = new Uint8Array([0, 1, 2, 0xff, 0xfe, 0x80, 0x7f, 0xc3, 0x28, 10, 13]);
const equalBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);

/** Takes the first delivery of a fresh consumer of `dest` in `group`, settles it with `settle`, closes. */
async function takeOne(ctx: CaseContext, dest: Destination, group: string, settle: (d: Delivery) => Promise<void>): Promise<Delivery> {
  const conn = await ctx.connect();
  const c = await conn.consumer(dest, { group, from: 'earliest' });
  try {
    for (let waited = 0; waited < ctx.t(30_000); waited += 500) {
      const [d] = await c.poll({ max: 1, waitMs: 500 });
      if (d) {
        await settle(d);
        return d;
      }
    }
    throw new Error(`no delivery on ${dest.kind}:${dest.name} for group ${group} within ${ctx.t(30_000)} ms`);
  } finally {
    await conn.close({ timeoutMs: 0 });
  }
}

/** IX wire interop: the other side is the broker's own client library, never Switchboard. */
export const interopCases: ConformanceCase[] = [
  {
    id: 'IX1',
    title: 'foreign producer to Switchboard: body bytes, key, headers and id arrive as sent, at attempt 1',
    requires: [],
    applicable: needs(),
    async run(ctx) {
      const f = await foreignOf(ctx);
      const q = ctx.queue();
      await ctx.connection.admin.ensureDestination(q);
      const r = new Receiver(await ctx.consumer(q));
      ctx.defer(() => r.close());
      const id = ctx.name('ix1');
      await f.publish(q, { body: BINARY, key: 'customer-7', headers: { 'x-tenant': 'acme', trace: 'a b=c;d' }, id });
      await r.waitForUnique(1, ctx.t(30_000), 'the foreign message', ctx.signal);
      const d = r.deliveries[0]!;
      check(equalBytes(d.body, BINARY), `the body arrived as ${JSON.stringify([...d.body])}, sent ${JSON.stringify([...BINARY])}`);
      checkEqual(d.key, 'customer-7', 'the key');
      checkEqual(d.headers['x-tenant'], 'acme', 'header x-tenant');
      checkEqual(d.headers.trace, 'a b=c;d', 'header trace');
      checkEqual(d.id, id, 'the id');
      checkEqual(d.attempt, 1, 'the attempt');
    },
  },
  {
    id: 'IX2',
    title: 'Switchboard producer to a foreign consumer: body bytes, key, headers and id readable without Switchboard',
    requires: [],
    applicable: needs(),
    async run(ctx) {
      const f = await foreignOf(ctx);
      const q = ctx.queue();
      await ctx.connection.admin.ensureDestination(q);
      const { ready, messages } = await f.receive(q, 1, ctx.t(30_000));
      await ready;
      const id = ctx.name('ix2');
      await ctx.producer().send(q, { id, body: BINARY, key: 'customer-7', headers: { 'x-tenant': 'acme', trace: 'a b=c;d' } });
      const [m] = await messages;
      check(m !== undefined, 'the foreign consumer got nothing');
      check(equalBytes(m.body, BINARY), `the body arrived as ${JSON.stringify([...m.body])}`);
      checkEqual(m.key, 'customer-7', 'the key the foreign consumer read');
      checkEqual(m.headers['x-tenant'], 'acme', 'header x-tenant');
      checkEqual(m.headers.trace, 'a b=c;d', 'header trace');
      checkEqual(m.id, id, 'the id the foreign consumer read');
    },
  },
  {
    id: 'IX3',
    title: 'foreign messages without an id get distinct ids across sessions, stable across redeliveries and groups where the broker allows',
    // Published before any consumer exists, then polled: the queue must keep them and allow polling.
    requires: ['mailbox', 'polling'],
    applicable: needs(),
    timeoutMs: 120_000,
    async run(ctx) {
      const f = await foreignOf(ctx);
      const q = ctx.queue();
      await ctx.connection.admin.ensureDestination(q);
      for (let i = 0; i < 3; i++) await f.publish(q, { body: new TextEncoder().encode(`anonymous ${i}`) });
      // Three sessions, one message each: delivery tags, sequence numbers and counters restart per
      // session, so an id made of them would repeat.
      const seen: Delivery[] = [];
      for (let i = 0; i < 3; i++) seen.push(await takeOne(ctx, q, 'g', (d) => d.ack()));
      const ids = seen.map((d) => d.id);
      check(new Set(ids).size === 3, `three different foreign messages got the ids ${JSON.stringify(ids)} (bodies ${JSON.stringify(seen.map((d) => d.text()))})`);
      const stable = ctx.options.foreign!.stableIds;
      if (stable !== true) {
        ctx.note(`ids are not stable across redeliveries: ${stable.reason}`);
        return;
      }
      // Stable: a nacked message comes back with its id; a topic's message has one id in every group.
      await f.publish(q, { body: new TextEncoder().encode('nacked once') });
      const first = await takeOne(ctx, q, 'g', (d) => d.nack());
      const again = await takeOne(ctx, q, 'g', (d) => d.ack());
      checkEqual(again.text(), 'nacked once', 'the redelivered message');
      checkEqual(again.id, first.id, 'the id of a redelivered foreign message');
      check(!ids.includes(first.id), `the fourth foreign message got the id of an earlier one (${first.id})`);
      const t = ctx.topic();
      await ctx.connection.admin.ensureDestination(t);
      const groups = [new Receiver(await ctx.consumer(t, { group: 'g1' })), new Receiver(await ctx.consumer(t, { group: 'g2' }))];
      for (const g of groups) ctx.defer(() => g.close());
      await f.publish(t, { body: new TextEncoder().encode('fan-out') });
      for (const g of groups) await g.waitForUnique(1, ctx.t(30_000), 'the foreign topic message', ctx.signal);
      checkEqual(groups[1]!.deliveries[0]!.id, groups[0]!.deliveries[0]!.id, 'the id of one foreign topic message in two groups');
    },
  },
  {
    id: 'IX4',
    title: "typed foreign headers arrive losslessly as strings in the documented rendering, and the foreign publisher's confirm holds",
    requires: [],
    applicable: needs('typedHeaders'),
    async run(ctx) {
      const f = await foreignOf(ctx);
      for (const dest of [ctx.queue(), ctx.topic()]) {
        await ctx.connection.admin.ensureDestination(dest);
        const r = new Receiver(await ctx.consumer(dest, { group: 'g' }));
        ctx.defer(() => r.close());
        // publishTyped resolves only once the broker confirmed it: a header that breaks a confirm fails here.
        const { expected } = await f.publishTyped!(dest);
        await r.waitForUnique(1, ctx.t(30_000), `the typed message on ${dest.kind}:${dest.name}`, ctx.signal);
        const got = r.deliveries[0]!.headers;
        for (const [k, v] of Object.entries(expected)) checkEqual(got[k], v, `${dest.kind} header ${k}`);
      }
    },
  },
  {
    id: 'IX5',
    title: "request/reply follows the broker's convention (where it has none, the one the adapter documents) both ways: a foreign requester gets Switchboard's reply, a Switchboard request gets a foreign responder's",
    requires: ['requestResponse'],
    applicable: needs('nativeRequestReply'),
    // Longer than its steps' own limits together (30 + 60 + 30 s), so a stuck step fails with its
    // own message, not the case's bare timeout.
    timeoutMs: 150_000,
    async run(ctx) {
      const f = await foreignOf(ctx);
      const q1 = ctx.queue('to-sb');
      const responder = await ctx.consumer(q1);
      const h = responder.consume((d) => d.respond(`sb answers ${d.text()}`));
      ctx.defer(() => h.close());
      const reply = await f.request!(q1, 'ping', ctx.t(30_000));
      checkEqual(new TextDecoder().decode(reply.body), 'sb answers ping', 'the reply a foreign requester got from Switchboard');

      const q2 = ctx.queue('to-foreign');
      await ctx.connection.admin.ensureDestination(q2);
      let seen = 0;
      const foreignResponder = await f.respond!(q2, (m) => {
        seen++;
        return `foreign answers ${new TextDecoder().decode(m.body)}`;
      });
      ctx.defer(() => foreignResponder.close());
      // A first request on a connection may first make its reply topic and join its reply group
      // (Kafka): one request to Switchboard's own responder sets that up, so the timed request
      // below measures the interop alone.
      const p = ctx.producer();
      checkEqual((await p.request(q1, 'warm-up', { timeoutMs: ctx.t(60_000) })).text(), 'sb answers warm-up', 'the reply to a Switchboard request to a Switchboard responder');
      let back;
      try {
        back = await p.request(q2, 'pong', { timeoutMs: ctx.t(30_000) });
      } catch (err) {
        throw new Error(`${(err as Error).message} (the foreign responder had got ${seen} request(s): ${seen === 0 ? 'the request did not reach it' : 'its reply did not come back'})`);
      }
      checkEqual(back.text(), 'foreign answers pong', 'the reply Switchboard got from a foreign responder');
    },
  },
  {
    id: 'IX6',
    title: 'nothing is left on the broker after close: no reply queues, reply topics, reply groups or consumers of a closed connection',
    requires: ['requestResponse'],
    applicable: needs(),
    async run(ctx) {
      const f = await foreignOf(ctx);
      const q = ctx.queue();
      const responder = await ctx.consumer(q);
      const h = responder.consume((d) => d.respond('ok'));
      ctx.defer(() => h.close());
      const before = new Set(await f.listObjects());
      const conn = await ctx.connect();
      const p = conn.producer();
      await p.request(q, 'one', { timeoutMs: ctx.t(15_000) });
      await p.request(q, 'two', { timeoutMs: ctx.t(15_000) });
      await conn.close();
      let left: string[] = [];
      // Brokers drop some objects a moment after the client left (exclusive queues, ephemeral consumers).
      for (let waited = 0; waited <= ctx.t(10_000); waited += 1000) {
        left = (await f.listObjects()).filter((o) => !before.has(o) && !o.includes(q.name));
        if (left.length === 0) break;
        await sleep(1000, ctx.signal);
      }
      check(left.length === 0, `a closed connection left ${left.length} broker objects behind: ${left.slice(0, 5).join(', ')}`);
    },
  },
];
