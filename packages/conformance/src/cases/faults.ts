import { defaultPortFor, parseUrl, SwitchboardError, type Connection, type Delivery, type Destination } from '@switchboard/core';
import type { CaseContext, ConformanceCase } from '../case';
import { check, CheckFailure, checkEqual, sleep, waitUntil } from '../check';
import { ids, Receiver } from '../receiver';
import { TcpProxy } from '../tcp-proxy';

/**
 * Continuous confirmed publishing and consuming around a disruption. Every confirmed message
 * must arrive; every failed send must be a typed SwitchboardError.
 */
async function survive(ctx: CaseContext, conn: Connection, disrupt: (s: Survival) => Promise<void>, group?: { name: string; members: number }): Promise<void> {
  const q: Destination = ctx.queue();
  await conn.admin.ensureDestination(q);
  const receivers: Receiver[] = [];
  for (let i = 0; i < (group?.members ?? 1); i++) {
    const r = new Receiver(await conn.consumer(q, { prefetch: 50, ...(group ? { group: group.name } : {}) }));
    ctx.defer(() => r.close());
    receivers.push(r);
  }
  const received = (): Set<string> => {
    const all = new Set<string>();
    for (const r of receivers) for (const id of r.ids()) all.add(id);
    return all;
  };
  const p = conn.producer();
  ctx.defer(() => p.close());
  const confirmed = new Set<string>();
  /** The broker's reference of each confirmed send (an offset, a sequence), for the failure message. */
  const refs = new Map<string, string>();
  const failures = new Map<string, number>();
  let untyped: unknown;
  let stop = false;
  let n = 0;
  const prefix = ctx.name('f');
  const pump = (async () => {
    while (!stop) {
      const id = `${prefix}-${n++}`;
      try {
        const receipt = await p.send(q, { id, body: id });
        confirmed.add(id);
        if (receipt.brokerRef !== undefined) refs.set(id, receipt.brokerRef);
      } catch (err) {
        if (err instanceof SwitchboardError) failures.set(err.code, (failures.get(err.code) ?? 0) + 1);
        else untyped ??= err;
        await sleep(100);
      }
      await sleep(20);
    }
  })();
  await waitUntil(() => confirmed.size >= 20, ctx.t(15_000), () => 'sends before the disruption', ctx.signal);
  await disrupt({ destination: q, confirmed, received, failures });
  const afterCount = confirmed.size;
  await waitUntil(() => confirmed.size >= afterCount + 20, ctx.t(60_000), () => `confirmed sends after the disruption (${confirmed.size - afterCount} so far; failures ${JSON.stringify([...failures])})`, ctx.signal);
  stop = true;
  await pump;
  ctx.note(`sent ${n}, confirmed ${confirmed.size}, failed ${JSON.stringify(Object.fromEntries(failures))}`);
  check(untyped === undefined, `a send failed with an untyped error: ${String(untyped)}`);
  const missing = (): string[] => {
    const got = received();
    return [...confirmed].filter((id) => !got.has(id));
  };
  try {
    await waitUntil(() => missing().length === 0, ctx.t(60_000), () => `all ${confirmed.size} confirmed messages (${missing().length} missing, e.g. ${missing().slice(0, 3).map((id) => `${id} (confirmed as ${refs.get(id) ?? '?'})`).join(', ')})`, ctx.signal);
  } catch (err) {
    if (!(err instanceof CheckFailure)) throw err;
    throw new CheckFailure(`${err.message}; ${sharedRefs(refs, missing())}`);
  }
  const deliveries = receivers.reduce((sum, r) => sum + r.items.length, 0);
  const unique = received().size;
  ctx.note(`received ${unique} unique, ${deliveries - unique} duplicates${receivers.length > 1 ? ` (per member: ${receivers.map((r) => r.items.length).join(', ')})` : ''}`);
}

/**
 * For the failure message: the confirmed messages that got the same broker reference as another
 * one (e.g. two messages confirmed at one Kafka offset: the broker took the second for a retry of
 * the first and stored nothing of it).
 */
function sharedRefs(refs: ReadonlyMap<string, string>, missing: readonly string[]): string {
  const byRef = new Map<string, string[]>();
  for (const [id, ref] of refs) {
    const ids = byRef.get(ref);
    if (ids) ids.push(id);
    else byRef.set(ref, [id]);
  }
  const shared = missing.filter((id) => (byRef.get(refs.get(id) ?? '')?.length ?? 0) > 1);
  if (shared.length === 0) return 'no missing message shares its broker reference with another';
  return `${shared.length} missing were confirmed with the broker reference of another message: ${shared
    .slice(0, 3)
    .map((id) => `${id} and ${byRef.get(refs.get(id)!)!.filter((x) => x !== id).join(', ')} at ${refs.get(id)}`)
    .join('; ')}`;
}

/** What a disruption sees of the traffic around it. */
interface Survival {
  destination: Destination;
  /** Ids whose send was confirmed so far. */
  confirmed: ReadonlySet<string>;
  /** Ids some consumer received so far. */
  received(): Set<string>;
  /** Failed sends so far, by error code. */
  failures: ReadonlyMap<string, number>;
}

/** F faults. */
export const faultCases: ConformanceCase[] = [
  {
    id: 'F1',
    title: 'graceful close waits for in-flight handlers and settles them; nothing acked comes back, nothing unacked is lost',
    requires: ['gracefulClose'],
    async run(ctx) {
      const q = ctx.queue();
      const started = new Set<string>();
      const finished = new Set<string>();
      const c1 = await ctx.consumer(q, { prefetch: 4, group: 'g' });
      const h = c1.consume(async (d) => {
        started.add(d.id);
        await sleep(500);
        finished.add(d.id);
      }, { concurrency: 4 });
      const sent = ids(ctx.name('f1'), 20);
      await ctx.producer().send(q, sent.map((id) => ({ id, body: id })));
      await waitUntil(() => started.size >= 4, ctx.t(10_000), () => '4 handlers in flight', ctx.signal);
      await c1.close();
      const unfinished = [...started].filter((id) => !finished.has(id));
      check(unfinished.length === 0, `close() returned while ${unfinished.length} handlers were still running`);
      await h.done;
      const r = new Receiver(await ctx.consumer(q, { group: 'g' }));
      ctx.defer(() => r.close());
      const rest = sent.filter((id) => !finished.has(id));
      await r.waitFor((x) => rest.every((id) => x.uniqueIds().has(id)), ctx.t(30_000), `the ${rest.length} messages the first consumer did not handle`, ctx.signal);
      await sleep(ctx.t(500), ctx.signal);
      const again = r.ids().filter((id) => finished.has(id));
      check(again.length === 0, `${again.length} messages handled and acked before close() were delivered again`);
    },
  },
  {
    id: 'F5',
    title: "close with a stuck handler returns within its deadline; the message is delivered again and the late settle fails with closed",
    requires: ['gracefulClose', 'atLeastOnce'],
    async run(ctx) {
      const closeTimeoutMs = ctx.t(1500);
      // The deadline plus core's 1 s hand-back moment, with room for a slow machine.
      const bound = closeTimeoutMs + ctx.t(1000) + ctx.t(2500);
      const lateErrors: string[] = [];
      let unstick!: () => void;
      const stuck = new Promise<void>((resolve) => (unstick = resolve));
      ctx.defer(() => unstick());
      // A handler stuck on a dead downstream; once freed, it tries to ack, which must fail with `closed`.
      const stuckHandler = (started: string[]) => async (d: Delivery) => {
        started.push(d.id);
        await stuck;
        try {
          await d.ack();
          lateErrors.push(`${d.id}: ack resolved`);
        } catch (err) {
          lateErrors.push(err instanceof SwitchboardError ? err.code : String(err));
        }
      };
      const closeWithin = async (what: string, close: () => Promise<void>) => {
        const t0 = Date.now();
        await close();
        const took = Date.now() - t0;
        ctx.note(`${what} returned after ${took} ms (deadline ${closeTimeoutMs} ms)`);
        check(took <= bound, `${what} took ${took} ms with a handler stuck; the deadline was ${closeTimeoutMs} ms (allowed up to ${bound} ms)`);
        check(took >= closeTimeoutMs - ctx.t(100), `${what} returned after ${took} ms, before its ${closeTimeoutMs} ms deadline, while a handler still ran`);
      };

      // 1. Consumer.close({ timeoutMs }) with a stuck consume handler.
      const q = ctx.queue();
      const started1: string[] = [];
      const c1 = await ctx.consumer(q, { group: 'g', ackTimeoutMs: ctx.t(120_000) });
      const h1 = c1.consume(stuckHandler(started1));
      const id1 = ctx.name('f5-consumer');
      await ctx.producer().send(q, { id: id1, body: 'stuck' });
      await waitUntil(() => started1.length > 0, ctx.t(15_000), () => 'the first delivery', ctx.signal);
      await closeWithin('consumer.close({ timeoutMs })', () => c1.close({ timeoutMs: closeTimeoutMs }));
      await h1.done;

      // 2. Connection.close({ timeoutMs }) with a stuck consume handler, on a connection of its own.
      const conn = await ctx.connect();
      const started2: string[] = [];
      const c2 = await conn.consumer(q, { group: 'g', ackTimeoutMs: ctx.t(120_000) });
      c2.consume(stuckHandler(started2), { concurrency: 4 });
      const id2 = ctx.name('f5-connection');
      await ctx.producer().send(q, { id: id2, body: 'stuck too' });
      // The first message comes back to this member too (it was handed back): wait for the second.
      await waitUntil(() => started2.includes(id2), ctx.t(30_000), () => `the second message at the second member (got ${JSON.stringify(started2)})`, ctx.signal);
      await closeWithin('connection.close({ timeoutMs })', () => conn.close({ timeoutMs: closeTimeoutMs }));

      // Both messages were handed back, not lost: a fresh member of the group gets them.
      const r = new Receiver(await ctx.consumer(q, { group: 'g' }));
      ctx.defer(() => r.close());
      await r.waitFor((x) => x.uniqueIds().has(id1) && x.uniqueIds().has(id2), ctx.t(60_000), `both handed-back messages at a new member (got ${JSON.stringify([...r.uniqueIds()])})`, ctx.signal);

      // The stuck handlers finally finish: their settles fail with `closed` and change nothing.
      unstick();
      await waitUntil(() => lateErrors.length >= started1.length + started2.length, ctx.t(10_000), () => 'the late settles', ctx.signal);
      check(lateErrors.every((e) => e === 'closed'), `a settle after the deadline should fail with "closed", got ${JSON.stringify(lateErrors)}`);
    },
  },
  {
    id: 'F2',
    title: 'broker restart during publishing and consuming: reconnects, every confirmed message arrives',
    requires: ['reconnect'],
    applicable: (_url, options) => (options.brokerControl?.restart ? undefined : 'no broker control given'),
    timeoutMs: 240_000,
    async run(ctx) {
      const conn = await ctx.connect();
      await survive(ctx, conn, async () => {
        const t0 = Date.now();
        await ctx.options.brokerControl!.restart!();
        ctx.note(`broker restart took ${Date.now() - t0} ms`);
      });
    },
  },
  {
    id: 'F6',
    title: "a cluster loses the destination's leader node during publishing and consuming with a group: every confirmed message arrives, consumers continue",
    requires: ['reconnect', 'atLeastOnce'],
    applicable: (_url, options) => (options.brokerControl?.cluster ? undefined : 'no cluster control given (F6 needs a cluster it may crash a node of)'),
    timeoutMs: 360_000,
    async run(ctx) {
      const cluster = ctx.options.brokerControl!.cluster!;
      const conn = await ctx.connect();
      await survive(ctx, conn, async ({ destination, confirmed, received, failures }) => {
        const leader = await cluster.leaderOf?.(destination);
        const victim = leader ?? cluster.nodes[0]!;
        ctx.note(leader !== undefined ? `killed node ${victim}, the leader of ${destination.kind}:${destination.name}` : `killed node ${victim}, the first node (the control names no leader)`);
        const before = confirmed.size;
        const killedAt = Date.now();
        await cluster.kill(victim);
        let restarted = false;
        ctx.defer(async () => { if (!restarted) await cluster.start(victim); });
        // With the node down: sends are confirmed again, and the group consumes what was confirmed meanwhile.
        const sentDuring = (): string[] => [...confirmed].slice(before);
        await waitUntil(() => confirmed.size >= before + 20, ctx.t(120_000), () => `confirmed sends with node ${victim} down (${confirmed.size - before} so far; failures ${JSON.stringify([...failures])})`, ctx.signal);
        const firstAfter = Date.now();
        await waitUntil(() => {
          const got = received();
          return sentDuring().filter((id) => got.has(id)).length >= 10;
        }, ctx.t(120_000), () => `the group consuming with node ${victim} down (${sentDuring().filter((id) => received().has(id)).length} of ${sentDuring().length} sent meanwhile received)`, ctx.signal);
        ctx.note(`with node ${victim} down: 20 more sends confirmed after ${firstAfter - killedAt} ms, the group consumed them after ${Date.now() - killedAt} ms`);
        const t0 = Date.now();
        await cluster.start(victim);
        restarted = true;
        ctx.note(`node ${victim} back after ${Date.now() - t0} ms`);
      }, { name: 'g', members: 2 });
    },
  },
  {
    id: 'F3',
    title: 'connection cut by a TCP proxy: reconnects, every confirmed message arrives',
    requires: ['connectionCut'],
    applicable: (url) => {
      const u = parseUrl(url);
      return u.hosts.length === 1 ? undefined : 'F3 needs a URL with exactly one host:port to put the proxy in front of';
    },
    timeoutMs: 180_000,
    async run(ctx) {
      const u = parseUrl(ctx.url);
      const target = u.hosts[0]!;
      const proxy = new TcpProxy(target.host, target.port ?? defaultPortFor(u.scheme) ?? 0);
      const port = await proxy.start();
      ctx.defer(() => proxy.close());
      const proxied = replaceHostPort(ctx.url, `127.0.0.1:${port}`);
      const conn = await ctx.connect(proxied);
      await survive(ctx, conn, async () => {
        proxy.stall(true);
        await sleep(ctx.t(1000), ctx.signal);
        proxy.stall(false);
        const cut = proxy.cut();
        ctx.note(`cut ${cut} connections after a 1 s stall`);
        checkEqual(cut > 0, true, 'the client connected through the proxy');
      });
    },
  },
  {
    id: 'F4',
    title: 'a poison message does not stop other messages and ends in the dead-letter destination',
    requires: ['deadLetter'],
    async run(ctx) {
      const q = ctx.queue();
      const dlqDest = ctx.queue('dlq');
      const dlq = new Receiver(await ctx.consumer(dlqDest));
      ctx.defer(() => dlq.close());
      const handled = new Set<string>();
      const h = (await ctx.consumer(q, { maxAttempts: 3, deadLetter: dlqDest, ackTimeoutMs: 30_000 })).consume((d) => {
        if (d.text() === 'poison') throw new Error('cannot handle poison');
        handled.add(d.id);
      }, { concurrency: 2 });
      ctx.defer(() => h.close());
      const poison = ctx.name('poison');
      const good = ids(ctx.name('good'), 10);
      await ctx.producer().send(q, [{ id: poison, body: 'poison' }, ...good.map((id) => ({ id, body: id }))]);
      await waitUntil(() => good.every((id) => handled.has(id)), ctx.t(30_000), () => `the 10 good messages (got ${handled.size})`, ctx.signal);
      await dlq.waitFor((r) => r.deliveries.some((d) => d.text() === 'poison'), ctx.t(30_000), 'the poison message in the dead-letter destination', ctx.signal);
    },
  },
];


/** Replaces the host:port part of a URL, keeping credentials, path and query. */
export function replaceHostPort(url: string, hostPort: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)[^/?#]*/i, `$1${hostPort}`);
}
