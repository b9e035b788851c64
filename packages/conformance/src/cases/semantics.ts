import { spawn } from 'node:child_process';
import { withDedup, type Delivery } from '@switchboard/core';
import type { ConformanceCase } from '../case';
import { check, checkEqual, sleep, waitUntil } from '../check';
import { CRASH_CHILD_ACK_TIMEOUT_MS, crashConsumerScript, resolveDriverPackageDir } from '../child/locate';
import { ids, Receiver } from '../receiver';


/**
 * Watches handlers for per-key order (OR1, OR4): counts times two messages of one key were in
 * handlers at once, and records each key's sequence numbers in the order of first completion. A
 * redelivered copy of one id (at-least-once, a rebalance replaying from the last commit) is no
 * overlap, and is counted, not ordered.
 */
function keyOrderWatch(pauseMs: () => number) {
  const done = new Map<string, number[]>();
  const finished = new Set<string>();
  const inFlight = new Map<string, Map<string, number>>();
  let overlaps = 0;
  let duplicates = 0;
  return {
    total: () => [...done.values()].reduce((n, l) => n + l.length, 0),
    duplicates: () => duplicates,
    async handler(d: Delivery): Promise<void> {
      const key = d.key!;
      const running = inFlight.get(key) ?? new Map<string, number>();
      inFlight.set(key, running);
      running.set(d.id, (running.get(d.id) ?? 0) + 1);
      if (running.size > 1) overlaps++;
      await sleep(pauseMs());
      if (running.get(d.id) === 1) running.delete(d.id);
      else running.set(d.id, running.get(d.id)! - 1);
      if (finished.has(d.id)) {
        duplicates++;
        return;
      }
      finished.add(d.id);
      done.set(key, [...(done.get(key) ?? []), Number(d.text())]);
    },
    /** Fails on any overlap, or a key whose messages finished out of send order. */
    check(): void {
      checkEqual(overlaps, 0, 'times two messages of one key were in handlers at once');
      for (const [key, seqs] of done) {
        const bad = seqs.findIndex((x, i) => i > 0 && x < seqs[i - 1]!);
        check(bad < 0, `key ${key}: message ${seqs[bad]} finished after ${seqs[bad - 1]}`);
      }
    },
  };
}

/** S1 delivery semantics, S2 ordering, S3 stream semantics. */
export const semanticsCases: ConformanceCase[] = [
  {
    id: 'AM1',
    title: 'at-most-once: a handler that throws does not cause redelivery',
    requires: ['atMostOnce'],
    async run(ctx) {
      const q = ctx.queue();
      const seen: string[] = [];
      const h = (await ctx.consumer(q, { ackMode: 'at-most-once', ackTimeoutMs: 1000 })).consume((d) => {
        seen.push(d.id);
        throw new Error('handler failed after the ack');
      });
      ctx.defer(() => h.close());
      const sent = ids(ctx.name('am1'), 5);
      await ctx.producer().send(q, sent.map((id) => ({ id, body: id })));
      await waitUntil(() => new Set(seen).size >= 5, ctx.t(10_000), () => `5 deliveries (got ${seen.length})`, ctx.signal);
      await sleep(ctx.t(2500), ctx.signal);
      checkEqual(seen.length, 5, 'deliveries (a failed at-most-once message must not come back)');
    },
  },
  {
    id: 'AL1',
    title: 'at-least-once: a throwing handler causes redelivery with attempt + 1 until it succeeds',
    requires: ['atLeastOnce'],
    async run(ctx) {
      const q = ctx.queue();
      const attempts = new Map<string, number[]>();
      const h = (await ctx.consumer(q, { ackTimeoutMs: 30_000 })).consume((d) => {
        attempts.set(d.id, [...(attempts.get(d.id) ?? []), d.attempt]);
        if (d.attempt < 3) throw new Error(`fail attempt ${d.attempt}`);
      });
      ctx.defer(() => h.close());
      const sent = ids(ctx.name('al1'), 3);
      await ctx.producer().send(q, sent.map((id) => ({ id, body: id })));
      await waitUntil(() => sent.every((id) => (attempts.get(id) ?? []).length >= 3), ctx.t(30_000), () => `3 attempts of each message (got ${JSON.stringify([...attempts])})`, ctx.signal);
      await sleep(ctx.t(1000), ctx.signal);
      for (const id of sent) checkEqual(JSON.stringify(attempts.get(id)), '[1,2,3]', `attempts seen for ${id}`);
    },
  },
  {
    id: 'AL2',
    title: 'a consumer process killed mid-handling: every unacked message goes to another consumer',
    requires: ['crashRedelivery'],
    timeoutMs: 120_000,
    async run(ctx) {
      const q = ctx.queue();
      await ctx.connection.admin.ensureDestination(q);
      const sent = ids(ctx.name('al2'), 10);
      const group = 'workers';
      // Join the group first so the messages wait for it, then let the child take them.
      const child = spawn(process.execPath, [crashConsumerScript()], {
        env: {
          ...process.env,
          SWITCHBOARD_CHILD_URL: ctx.url,
          SWITCHBOARD_CHILD_SOURCE: JSON.stringify(q),
          SWITCHBOARD_CHILD_GROUP: group,
          SWITCHBOARD_CHILD_DRIVER_DIR: resolveDriverPackageDir(ctx.url, ctx.options.driverPackageDir),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      ctx.defer(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
      const received: string[] = [];
      let ready = false;
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()).slice(-2000));
      let buf = '';
      child.stdout.on('data', (b: Buffer) => {
        buf += b.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === 'READY') ready = true;
          else if (line.startsWith('RECV ')) received.push(line.slice(5));
        }
      });
      await waitUntil(() => ready || child.exitCode !== null, ctx.t(30_000), () => 'the child consumer to start', ctx.signal);
      check(ready, `the child consumer exited (${child.exitCode}) before it was ready: ${stderr.trim().slice(-500)}`);
      await ctx.producer().send(q, sent.map((id) => ({ id, body: id })));
      await waitUntil(() => received.length > 0, ctx.t(20_000), () => 'the child to receive a message', ctx.signal);
      child.kill('SIGKILL');
      await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
      ctx.note(`the killed child held ${new Set(received).size} unacked deliveries`);
      // The child's ack timeout (child/crash-consumer.ts): a member joining with another one may change the group's.
      const r = new Receiver(await ctx.consumer(q, { group, ackTimeoutMs: CRASH_CHILD_ACK_TIMEOUT_MS }));
      ctx.defer(() => r.close());
      await r.waitForUnique(sent.length, ctx.t(90_000), 'messages after the crash', ctx.signal);
      const missing = sent.filter((id) => !r.uniqueIds().has(id));
      check(missing.length === 0, `${missing.length} messages were lost with the killed consumer`);
    },
  },
  {
    id: 'EO1',
    title: 'effectively-once: the same message id sent twice is handled once',
    requires: ['dedup'],
    async run(ctx) {
      const q = ctx.queue();
      const raw = await ctx.consumer(q);
      const viaMiddleware = ctx.capabilities.dedup.level === 'emulated';
      const consumer = viaMiddleware ? withDedup(raw) : raw;
      ctx.note(viaMiddleware ? 'dedup by the dedup middleware' : 'dedup by the broker');
      const handled: string[] = [];
      const h = consumer.consume((d) => { handled.push(d.id); });
      ctx.defer(() => h.close());
      const p = ctx.producer();
      const id = ctx.name('eo1');
      await p.send(q, { id, body: 'pay once' });
      await p.send(q, { id, body: 'pay once' });
      // Dedup is on the id alone: the same id with another body is still a duplicate ...
      const changed = ctx.name('eo1-changed');
      await p.send(q, { id: changed, body: 'first body' });
      await p.send(q, { id: changed, body: 'second body, same id' });
      // ... and two ids with the same body are two messages.
      const twinA = ctx.name('eo1-twin-a');
      const twinB = ctx.name('eo1-twin-b');
      await p.send(q, { id: twinA, body: 'same body' });
      await p.send(q, { id: twinB, body: 'same body' });
      const after = ctx.name('after');
      await p.send(q, { id: after, body: 'a later message' });
      await waitUntil(() => handled.includes(after), ctx.t(15_000), () => 'the later message', ctx.signal);
      await sleep(ctx.t(1000), ctx.signal);
      checkEqual(handled.filter((x) => x === id).length, 1, `times message ${id} (sent twice) was handled`);
      checkEqual(handled.filter((x) => x === changed).length, 1, `times message ${changed} (one id, two bodies) was handled`);
      checkEqual(handled.filter((x) => x === twinA).length, 1, `times message ${twinA} (same body as another id) was handled`);
      checkEqual(handled.filter((x) => x === twinB).length, 1, `times message ${twinB} (same body as another id) was handled`);
    },
  },
  {
    id: 'OR1',
    title: 'per-key order: N messages over K keys, consumed by a group with concurrent handlers, never run two of one key at once and finish in send order per key',
    requires: ['orderingPerKey'],
    async run(ctx) {
      const q = ctx.queue();
      const watch = keyOrderWatch(() => Math.random() * 3);
      // Two members, each running four handlers at once: per-key order must hold across both.
      const members = [await ctx.consumer(q, { group: 'ordered', prefetch: 8 }), await ctx.consumer(q, { group: 'ordered', prefetch: 8 })];
      const handles = members.map((c) => c.consume((d) => watch.handler(d), { concurrency: 4 }));
      ctx.defer(() => Promise.all(handles.map((h) => h.close())));
      const N = 200;
      const K = 5; // odd: with two members taking turns, each key's messages alternate between them
      const msgs = Array.from({ length: N }, (_, i) => ({ id: `${ctx.name('or1')}-${i}`, key: `key-${i % K}`, body: String(i) }));
      const p = ctx.producer();
      for (let i = 0; i < N; i += 20) await p.send(q, msgs.slice(i, i + 20));
      await waitUntil(() => watch.total() >= N, ctx.t(30_000), () => `${N} messages (got ${watch.total()})`, ctx.signal);
      if (watch.duplicates() > 0) ctx.note(`${watch.duplicates()} redelivered copies (not ordered, counted)`);
      watch.check();
    },
  },
  {
    id: 'OR4',
    title: 'per-key order across a membership change: a member closes and another joins mid-stream, and no key runs twice at once or finishes out of order',
    requires: ['orderingPerKey'],
    timeoutMs: 120_000,
    async run(ctx) {
      const q = ctx.queue();
      const watch = keyOrderWatch(() => 1 + Math.random() * 4);
      const join = async () => {
        const c = await ctx.consumer(q, { group: 'ordered', prefetch: 8 });
        return { c, h: c.consume((d) => watch.handler(d), { concurrency: 4 }) };
      };
      const leaving = await join();
      const staying = await join();
      ctx.defer(() => staying.h.close());
      const N = 300;
      const K = 5;
      const msgs = Array.from({ length: N }, (_, i) => ({ id: `${ctx.name('or4')}-${i}`, key: `key-${i % K}`, body: String(i) }));
      const p = ctx.producer();
      const sending = (async () => {
        for (let i = 0; i < N; i += 10) {
          await p.send(q, msgs.slice(i, i + 10));
          await sleep(ctx.t(20), ctx.signal);
        }
      })();
      // A third of the way in, one member leaves (graceful close) and a new one joins.
      await waitUntil(() => watch.total() >= N / 3, ctx.t(30_000), () => `${N / 3} messages before the change (got ${watch.total()})`, ctx.signal);
      await leaving.c.close();
      const joined = await join();
      ctx.defer(() => joined.h.close());
      ctx.note(`membership changed after ${watch.total()} messages`);
      await sending;
      await waitUntil(() => watch.total() >= N, ctx.t(60_000), () => `${N} messages (got ${watch.total()})`, ctx.signal);
      if (watch.duplicates() > 0) ctx.note(`${watch.duplicates()} redelivered copies (not ordered, counted)`);
      watch.check();
    },
  },
  {
    id: 'OR3',
    title: 'per-key order after a nack: a later message of the key does not finish before the nacked one is handled',
    requires: ['orderingPerKey', 'orderingPerKeyAfterNack'],
    async run(ctx) {
      const q = ctx.queue();
      const done = new Map<string, number[]>();
      // By sequence number, not id: a backend may redeliver a retry under another id.
      const finished = new Set<number>();
      const nacked = new Set<number>();
      const handler = async (d: Delivery) => {
        const seq = Number(d.text());
        // Every fourth message fails once: its key must wait for it.
        if (seq % 4 === 1 && !nacked.has(seq)) {
          nacked.add(seq);
          throw new Error(`first attempt of ${seq} fails`);
        }
        await sleep(Math.random() * 3);
        if (finished.has(seq)) return;
        finished.add(seq);
        done.set(d.key!, [...(done.get(d.key!) ?? []), seq]);
      };
      const members = [await ctx.consumer(q, { group: 'ordered', prefetch: 8 }), await ctx.consumer(q, { group: 'ordered', prefetch: 8 })];
      const handles = members.map((c) => c.consume(handler, { concurrency: 4 }));
      ctx.defer(() => Promise.all(handles.map((h) => h.close())));
      const N = 60;
      const K = 3;
      const msgs = Array.from({ length: N }, (_, i) => ({ id: `${ctx.name('or3')}-${i}`, key: `key-${i % K}`, body: String(i) }));
      const p = ctx.producer();
      for (let i = 0; i < N; i += 20) await p.send(q, msgs.slice(i, i + 20));
      await waitUntil(() => finished.size >= N, ctx.t(60_000), () => `${N} messages (got ${finished.size}, ${nacked.size} nacked once)`, ctx.signal);
      for (const [key, seqs] of done) {
        const bad = seqs.findIndex((s, i) => i > 0 && s < seqs[i - 1]!);
        check(bad < 0, `key ${key}: message ${seqs[bad]} (nacked once: ${seqs[bad]! % 4 === 1}) finished after ${seqs[bad - 1]}`);
      }
    },
  },
  {
    id: 'OR2',
    title: 'total order: one producer, one consumer, one destination keep send order',
    requires: ['orderingTotal'],
    async run(ctx) {
      const q = ctx.queue();
      const r = new Receiver(await ctx.consumer(q, { prefetch: 10 }));
      ctx.defer(() => r.close());
      const sent = ids(ctx.name('or2'), 100);
      const p = ctx.producer();
      for (let i = 0; i < sent.length; i += 25) await p.send(q, sent.slice(i, i + 25).map((id) => ({ id, body: id })));
      await r.waitForUnique(sent.length, ctx.t(20_000), 'messages', ctx.signal);
      const got = r.ids().filter((id, i, all) => all.indexOf(id) === i);
      const first = got.findIndex((id, i) => id !== sent[i]);
      check(first < 0, `position ${first}: expected ${sent[first]}, got ${got[first]}`);
    },
  },
  {
    id: 'ST1',
    title: 'a new group from earliest reads retained history; from latest, only what comes after',
    requires: ['replay'],
    async run(ctx) {
      const t = ctx.topic();
      await ctx.connection.admin.ensureDestination(t);
      const p = ctx.producer();
      const old = ids(ctx.name('old'), 5);
      await p.send(t, old.map((id) => ({ id, body: id })));
      const early = new Receiver(await ctx.consumer(t, { group: 'from-earliest', from: 'earliest' }));
      ctx.defer(() => early.close());
      await early.waitForUnique(5, ctx.t(15_000), 'retained messages from earliest', ctx.signal);
      const late = new Receiver(await ctx.consumer(t, { group: 'from-latest', from: 'latest' }));
      ctx.defer(() => late.close());
      const fresh = ids(ctx.name('new'), 3);
      await p.send(t, fresh.map((id) => ({ id, body: id })));
      await late.waitForUnique(3, ctx.t(15_000), 'new messages from latest', ctx.signal);
      await early.waitForUnique(8, ctx.t(15_000), 'all messages from earliest', ctx.signal);
      await sleep(ctx.t(300), ctx.signal);
      late.checkOnly(new Set(fresh), 'the group that started at latest');
    },
  },
  {
    id: 'ST2',
    title: 'replay from a position (timestamp)',
    requires: ['replayFromPosition'],
    async run(ctx) {
      const t = ctx.topic();
      await ctx.connection.admin.ensureDestination(t);
      const p = ctx.producer();
      const before = ids(ctx.name('before'), 5);
      for (const id of before) await p.send(t, { id, body: id });
      await sleep(ctx.t(300), ctx.signal);
      const position = Date.now();
      await sleep(ctx.t(300), ctx.signal);
      const after = ids(ctx.name('after'), 5);
      for (const id of after) await p.send(t, { id, body: id });
      const r = new Receiver(await ctx.consumer(t, { group: 'replay', from: { timestamp: position } }));
      ctx.defer(() => r.close());
      await r.waitForUnique(5, ctx.t(15_000), 'messages after the position', ctx.signal);
      await sleep(ctx.t(300), ctx.signal);
      r.checkOnly(new Set(after), 'a replay from the timestamp');
    },
  },
  {
    id: 'ST3',
    title: 'consumption is non-destructive: a second group reads the same messages afterwards',
    requires: ['replay'],
    async run(ctx) {
      const t = ctx.topic();
      await ctx.connection.admin.ensureDestination(t);
      const sent = ids(ctx.name('st3'), 10);
      const first = new Receiver(await ctx.consumer(t, { group: 'first', from: 'earliest' }));
      ctx.defer(() => first.close());
      await ctx.producer().send(t, sent.map((id) => ({ id, body: id })));
      await first.waitForUnique(10, ctx.t(15_000), 'messages in the first group', ctx.signal);
      await sleep(ctx.t(200), ctx.signal);
      const second = new Receiver(await ctx.consumer(t, { group: 'second', from: 'earliest' }));
      ctx.defer(() => second.close());
      await second.waitForUnique(10, ctx.t(15_000), 'the same messages in a second group', ctx.signal);
    },
  },
  {
    id: 'ST4',
    title: "a group's committed position survives a consumer restart",
    requires: ['committedPosition'],
    async run(ctx) {
      const t = ctx.topic();
      await ctx.connection.admin.ensureDestination(t);
      const sent = ids(ctx.name('st4'), 10);
      let acked = 0;
      const ackedIds = new Set<string>();
      const first = new Receiver(await ctx.consumer(t, { group: 'resume', from: 'earliest', prefetch: 10 }), {
        onDelivery: async (d) => {
          if (acked < 5) {
            acked++;
            ackedIds.add(d.id);
            await d.ack();
          }
        },
      });
      await ctx.producer().send(t, sent.map((id) => ({ id, body: id })));
      await first.waitForUnique(10, ctx.t(15_000), 'the first consumer to receive all', ctx.signal);
      await first.close();
      await first.consumer.close();
      const second = new Receiver(await ctx.consumer(t, { group: 'resume', from: 'earliest' }));
      ctx.defer(() => second.close());
      const rest = sent.filter((id) => !ackedIds.has(id));
      await second.waitFor((r) => rest.every((id) => r.uniqueIds().has(id)), ctx.t(30_000), `the ${rest.length} unacked messages after the restart`, ctx.signal);
      await sleep(ctx.t(300), ctx.signal);
      const again = second.ids().filter((id) => ackedIds.has(id));
      check(again.length === 0, `${again.length} acked messages were delivered again after the restart`);
    },
  },
  {
    id: 'ST5',
    title: "replay from a delivery's position: a new group from { position } gets exactly that message and everything after it",
    requires: ['replay', 'replayFromPosition'],
    async run(ctx) {
      const t = ctx.topic();
      await ctx.connection.admin.ensureDestination(t);
      const p = ctx.producer();
      const sent = ids(ctx.name('st5'), 12);
      // One by one, a few ms apart: on a partitioned log "after" is by the time each was stored.
      for (const id of sent) {
        await p.send(t, { id, body: id });
        await sleep(5, ctx.signal);
      }
      const reader = new Receiver(await ctx.consumer(t, { group: 'reader', from: 'earliest' }));
      ctx.defer(() => reader.close());
      await reader.waitForUnique(sent.length, ctx.t(15_000), 'every message, from earliest', ctx.signal);
      const k = 5;
      const known = reader.deliveries.find((d) => d.id === sent[k]);
      check(known !== undefined, `message ${sent[k]} was not read from earliest`);
      check(typeof known.position === 'string' && known.position.length > 0, `a delivery from a replayable source carries its position, got ${JSON.stringify(known.position)}`);
      const r = new Receiver(await ctx.consumer(t, { group: 'from-position', from: { position: known.position } }));
      ctx.defer(() => r.close());
      const expected = sent.slice(k);
      await r.waitFor((x) => expected.every((id) => x.uniqueIds().has(id)), ctx.t(15_000), `messages ${k} to ${sent.length - 1} from the position of message ${k}`, ctx.signal);
      await sleep(ctx.t(300), ctx.signal);
      r.checkOnly(new Set(expected), `a replay from the position of message ${k}`);
    },
  },
];
