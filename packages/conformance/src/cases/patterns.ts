import type { Delivery } from '@switchboard/core';
import type { ConformanceCase } from '../case';
import { check, checkEqual, checkRejects, sleep } from '../check';
import { ids, Receiver } from '../receiver';

/** P1 Request/Forget, P2 Request/ACK, P3 Request/Response, P4 PubSub, P5 Mailbox, P6 Polling. */
export const patternCases: ConformanceCase[] = [
  {
    id: 'RF1',
    title: 'fire-and-forget sends return without a confirm, and all 1000 still arrive',
    requires: ['fireAndForget'],
    async run(ctx) {
      const q = ctx.queue();
      const r = new Receiver(await ctx.consumer(q, { prefetch: 200 }));
      ctx.defer(() => r.close());
      const p = ctx.producer();
      const sent = ids(ctx.name('m'), 1000);
      for (const id of sent) {
        const receipt = await p.send(q, { id, body: id }, { confirm: false });
        checkEqual(receipt.confirmed, false, 'receipt.confirmed of a fire-and-forget send');
      }
      await r.waitForUnique(sent.length, ctx.t(30_000), 'fire-and-forget messages', ctx.signal);
      const got = r.uniqueIds();
      const missing = sent.filter((id) => !got.has(id));
      check(missing.length === 0, `${missing.length} of ${sent.length} messages never arrived`);
    },
  },
  {
    id: 'RF2',
    title: 'sending to a destination nobody consumes does not fail the sender',
    requires: ['fireAndForget'],
    async run(ctx) {
      const p = ctx.producer();
      await p.send(ctx.topic(), 'nobody listens', { confirm: true });
      await p.send(ctx.topic(), 'nobody listens', { confirm: false });
      await p.send(ctx.queue(), 'nobody listens yet', { confirm: false });
    },
  },
  {
    id: 'RA1',
    title: "a confirmed send resolves after the broker accepted it, with the broker's own id",
    requires: ['confirm'],
    async run(ctx) {
      const q = ctx.queue();
      const r = new Receiver(await ctx.consumer(q));
      ctx.defer(() => r.close());
      const receipt = await ctx.producer().send(q, { id: ctx.name('ra1'), body: 'accepted?' });
      checkEqual(receipt.confirmed, true, 'receipt.confirmed');
      check(typeof receipt.brokerRef === 'string' && receipt.brokerRef.length > 0, `receipt.brokerRef should carry the broker's id, got ${JSON.stringify(receipt.brokerRef)}`);
      const batch = await ctx.producer().send(q, ['b1', 'b2', 'b3']);
      checkEqual(batch.length, 3, 'receipts for a batch of 3');
      check(batch.every((b) => b.confirmed && !!b.brokerRef), 'every receipt of a confirmed batch is confirmed with a brokerRef');
      await r.waitForUnique(4, ctx.t(10_000), 'confirmed messages', ctx.signal);
      check(r.ids().includes(receipt.id), 'the confirmed message is delivered under its id');
    },
  },
  {
    id: 'RA2',
    title: 'a delivery never acked is delivered again after its consumer closes',
    requires: ['atLeastOnce'],
    async run(ctx) {
      const q = ctx.queue();
      const first = new Receiver(await ctx.consumer(q, { group: 'g' }), { onDelivery: () => undefined });
      const id = ctx.name('ra2');
      await ctx.producer().send(q, { id, body: 'keep me' });
      await first.waitForUnique(1, ctx.t(10_000), 'the first delivery', ctx.signal);
      await first.close();
      await first.consumer.close();
      const second = new Receiver(await ctx.consumer(q, { group: 'g' }));
      ctx.defer(() => second.close());
      await second.waitFor((r) => r.count(id) > 0, ctx.t(30_000), 'the unacked message to come back', ctx.signal);
    },
  },
  {
    id: 'RA3',
    title: 'ack is idempotent; a conflicting settle throws and changes nothing',
    requires: ['atLeastOnce'],
    async run(ctx) {
      const q = ctx.queue();
      const r = new Receiver(await ctx.consumer(q, { ackTimeoutMs: 30_000 }), { onDelivery: () => undefined });
      ctx.defer(() => r.close());
      const a = ctx.name('acked');
      const n = ctx.name('nacked');
      await ctx.producer().send(q, [{ id: a, body: 'a' }, { id: n, body: 'n' }]);
      await r.waitForUnique(2, ctx.t(10_000), 'both messages', ctx.signal);
      const da = r.deliveries.find((d) => d.id === a)!;
      const dn = r.deliveries.find((d) => d.id === n)!;
      await da.ack();
      await da.ack();
      await checkRejects(() => da.nack(), ['already_settled'], 'nack() after ack()');
      checkEqual(da.state, 'acked', 'state after a refused nack');
      await dn.nack();
      await checkRejects(() => dn.ack(), ['already_settled'], 'ack() after nack()');
      checkEqual(dn.state, 'nacked', 'state after a refused ack');
      await r.waitFor((x) => x.count(n) >= 2, ctx.t(15_000), 'the nacked message to come back', ctx.signal);
      await r.deliveries.filter((d) => d.id === n && d.state === 'pending').reduce((p, d) => p.then(() => d.ack()), Promise.resolve());
      checkEqual(r.count(a), 1, 'deliveries of the acked message');
    },
  },
  {
    id: 'RA4',
    title: 'binary body, key and headers round-trip unchanged; id and attempt are set',
    requires: ['confirm'],
    async run(ctx) {
      const q = ctx.queue();
      const r = new Receiver(await ctx.consumer(q));
      ctx.defer(() => r.close());
      const body = new Uint8Array([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0, 255]);
      // Six headers: a backend that keeps only the first few must fail here.
      const headers = { 'x-plain': 'value', 'x-unicode': 'grüße ✓', 'x-empty-ish': ' ', 'x-fourth': '4', 'x-fifth': 'five', 'x-sixth': 'vi' };
      const id = ctx.name('ra4');
      await ctx.producer().send(q, { id, body, key: 'key-ä-1', headers });
      await r.waitForUnique(1, ctx.t(10_000), 'the message', ctx.signal);
      const d = r.deliveries[0]!;
      checkEqual(Buffer.from(d.body).toString('hex'), Buffer.from(body).toString('hex'), 'body bytes');
      checkEqual(d.key, 'key-ä-1', 'key');
      for (const [k, v] of Object.entries(headers)) checkEqual(d.headers[k], v, `header ${k}`);
      checkEqual(d.id, id, 'id');
      checkEqual(d.attempt, 1, 'attempt of a first delivery');
      check(typeof d.receipt === 'string' && d.receipt.length > 0, 'delivery.receipt is set');
    },
  },
  {
    id: 'RA5',
    title: 'a confirm means stored: a group created after the confirm, from latest, does not get the message; one sent afterwards it does',
    requires: ['confirm', 'fanout'],
    async run(ctx) {
      const t = ctx.topic();
      await ctx.connection.admin.ensureDestination(t);
      const p = ctx.producer();
      const before = ctx.name('ra5-before');
      await p.send(t, { id: before, body: before });
      // The group exists only now: a message confirmed before this point was stored before it.
      const r = new Receiver(await ctx.consumer(t, { group: ctx.name('late'), from: 'latest' }));
      ctx.defer(() => r.close());
      const after = ctx.name('ra5-after');
      await p.send(t, { id: after, body: after });
      await r.waitFor((x) => x.uniqueIds().has(after), ctx.t(15_000), 'the message sent after the group was created', ctx.signal);
      await sleep(ctx.t(500), ctx.signal);
      check(!r.uniqueIds().has(before), 'the group created after the confirm got the message confirmed before it: the confirm came before the message was stored');
    },
  },
  {
    id: 'RR1',
    title: 'request resolves with the correlated reply; 50 concurrent requests each get their own',
    requires: ['requestResponse'],
    async run(ctx) {
      const q = ctx.queue();
      const responder = await ctx.consumer(q, { prefetch: 50 });
      const h = responder.consume(async (d) => {
        await sleep(Math.random() * 20);
        await d.respond({ body: `re:${d.text()}` });
      }, { concurrency: 10 });
      ctx.defer(() => h.close());
      const p = ctx.producer();
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => p.request(q, `req-${i}`, { timeoutMs: ctx.t(15_000) })));
      replies.forEach((reply, i) => checkEqual(reply.text(), `re:req-${i}`, `reply to request ${i}`));
    },
  },
  {
    id: 'RR2',
    title: 'with no responder a request rejects with timeout (or no_responders) within its deadline',
    requires: ['requestResponse'],
    async run(ctx) {
      const started = Date.now();
      const timeoutMs = 1000;
      await checkRejects(() => ctx.producer().request(ctx.queue(), 'anyone?', { timeoutMs }), ['timeout', 'no_responders'], 'a request nobody answers');
      const took = Date.now() - started;
      check(took <= timeoutMs + ctx.t(2000), `the request took ${took} ms to fail; its deadline was ${timeoutMs} ms`);
    },
  },
  {
    id: 'RR3',
    title: 'an AbortSignal cancels a pending request with an aborted error',
    requires: ['requestResponse'],
    async run(ctx) {
      const q = ctx.queue();
      // A responder that takes the request and never answers, so the request stays pending.
      let got = 0;
      const silent = (await ctx.consumer(q)).consume(() => { got++; });
      ctx.defer(() => silent.close());
      const ac = new AbortController();
      const started = Date.now();
      setTimeout(() => ac.abort(new Error('caller gave up')), 300);
      await checkRejects(() => ctx.producer().request(q, 'slow', { timeoutMs: ctx.t(20_000), signal: ac.signal }), ['aborted'], 'an aborted request');
      check(Date.now() - started < ctx.t(5000), 'the abort ends the request promptly');
      check(got <= 1, `the request was delivered ${got} times`);
    },
  },
  {
    id: 'RR4',
    title: 'the responder sees reply-to and correlation metadata; reply headers reach the requester',
    requires: ['requestResponse'],
    async run(ctx) {
      const q = ctx.queue();
      let seen: Delivery | undefined;
      const h = (await ctx.consumer(q)).consume(async (d) => {
        seen = d;
        await d.respond({ body: 'done', headers: { 'x-reply-header': 'present', 'x-echo': d.headers['x-request-header'] ?? 'missing' } });
      });
      ctx.defer(() => h.close());
      const reply = await ctx.producer().request(q, { body: 'hello' , headers: { 'x-request-header': 'req' } }, { timeoutMs: ctx.t(10_000) });
      check(seen !== undefined, 'the responder got the request');
      check(!!seen!.replyTo, 'delivery.replyTo is set on a request');
      check(!!seen!.correlationId, 'delivery.correlationId is set on a request');
      checkEqual(reply.correlationId, seen!.correlationId, 'the reply carries the request\'s correlation id');
      checkEqual(reply.headers['x-reply-header'], 'present', 'reply header');
      checkEqual(reply.headers['x-echo'], 'req', 'request header seen by the responder');
      checkEqual(reply.text(), 'done', 'reply body');
    },
  },
  {
    id: 'PS1',
    title: 'two subscriber groups on one topic each receive all N messages',
    requires: ['fanout'],
    async run(ctx) {
      const t = ctx.topic();
      const a = new Receiver(await ctx.consumer(t, { group: 'g1' }));
      const b = new Receiver(await ctx.consumer(t, { group: 'g2' }));
      ctx.defer(() => Promise.all([a.close(), b.close()]));
      const sent = ids(ctx.name('ps1'), 50);
      await ctx.producer().send(t, sent.map((id, i) => ({ id, body: id, key: `k${i}` })));
      await a.waitForUnique(50, ctx.t(20_000), 'messages in group g1', ctx.signal);
      await b.waitForUnique(50, ctx.t(20_000), 'messages in group g2', ctx.signal);
      const all = new Set(sent);
      a.checkOnly(all, 'group g1');
      b.checkOnly(all, 'group g2');
    },
  },
  {
    id: 'PS2',
    title: 'nothing published to topic A reaches a subscriber of topic B',
    requires: ['fanout'],
    async run(ctx) {
      const ta = ctx.topic('a');
      const tb = ctx.topic('b');
      const rb = new Receiver(await ctx.consumer(tb, { group: 'g' }));
      ctx.defer(() => rb.close());
      const p = ctx.producer();
      await p.send(ta, ids(ctx.name('a'), 20).map((id) => ({ id, body: 'for A' })));
      const marker = ctx.name('marker');
      await p.send(tb, { id: marker, body: 'for B' });
      await rb.waitFor((r) => r.count(marker) > 0, ctx.t(15_000), 'the marker on topic B', ctx.signal);
      await sleep(ctx.t(500), ctx.signal);
      rb.checkOnly(new Set([marker]), 'topic B');
    },
  },
  {
    id: 'PS3',
    title: 'within one group, each message goes to one member',
    requires: ['competingConsumers'],
    async run(ctx) {
      const t = ctx.topic();
      const a = new Receiver(await ctx.consumer(t, { group: 'shared' }));
      const b = new Receiver(await ctx.consumer(t, { group: 'shared' }));
      ctx.defer(() => Promise.all([a.close(), b.close()]));
      // 300, so that a backend duplicating 1 message in 100 within a group is caught.
      const sent = ids(ctx.name('ps3'), 300);
      await ctx.producer().send(t, sent.map((id, i) => ({ id, body: id, key: `k${i}` })));
      const total = () => new Set([...a.ids(), ...b.ids()]).size;
      await a.waitFor(() => total() >= sent.length, ctx.t(20_000), `all ${sent.length} messages across the group`, ctx.signal);
      await sleep(ctx.t(500), ctx.signal);
      const both = a.ids().filter((id) => b.uniqueIds().has(id));
      check(both.length === 0, `${both.length} messages went to both members of one group (${both.slice(0, 3).join(', ')})`);
      checkEqual(a.items.length + b.items.length, sent.length, 'deliveries across the group');
    },
  },
  {
    id: 'PS4',
    title: 'header filtering: a filtered subscription gets only matching messages',
    requires: ['headerFilter'],
    async run(ctx) {
      const t = ctx.topic();
      const r = new Receiver(await ctx.consumer(t, { group: 'reds', filter: { color: 'red' } }));
      ctx.defer(() => r.close());
      const reds = ids(ctx.name('red'), 10);
      const blues = ids(ctx.name('blue'), 10);
      const msgs = reds.flatMap((id, i) => [
        { id, body: 'r', headers: { color: 'red' } },
        { id: blues[i]!, body: 'b', headers: { color: 'blue' } },
      ]);
      await ctx.producer().send(t, msgs);
      await r.waitForUnique(10, ctx.t(15_000), 'red messages', ctx.signal);
      await sleep(ctx.t(500), ctx.signal);
      r.checkOnly(new Set(reds), 'the red subscription');
    },
  },
  {
    id: 'MB1',
    title: 'messages sent before any consumer exists wait and are delivered when one starts',
    requires: ['mailbox'],
    async run(ctx) {
      const q = ctx.queue();
      await ctx.connection.admin.ensureDestination(q);
      const sent = ids(ctx.name('mb1'), 10);
      await ctx.producer().send(q, sent.map((id) => ({ id, body: id })));
      await sleep(ctx.t(300), ctx.signal);
      const r = new Receiver(await ctx.consumer(q));
      ctx.defer(() => r.close());
      await r.waitForUnique(10, ctx.t(15_000), 'the waiting messages', ctx.signal);
      r.checkOnly(new Set(sent), 'the mailbox');
    },
  },
  {
    id: 'MB2',
    title: 'two consumers of one mailbox share N messages: each handled once, both get some',
    requires: ['mailbox', 'competingConsumers'],
    async run(ctx) {
      const q = ctx.queue();
      const slow = async (d: Delivery) => {
        await sleep(10);
        await d.ack();
      };
      const a = new Receiver(await ctx.consumer(q, { prefetch: 4 }), { onDelivery: slow });
      const b = new Receiver(await ctx.consumer(q, { prefetch: 4 }), { onDelivery: slow });
      ctx.defer(() => Promise.all([a.close(), b.close()]));
      // 300, so that a backend duplicating 1 message in 100 among competing consumers is caught.
      const sent = ids(ctx.name('mb2'), 300);
      await ctx.producer().send(q, sent.map((id, i) => ({ id, body: id, key: `k${i}` })));
      const total = () => new Set([...a.ids(), ...b.ids()]).size;
      await a.waitFor(() => total() >= sent.length, ctx.t(60_000), `all ${sent.length} messages across both consumers`, ctx.signal);
      await sleep(ctx.t(300), ctx.signal);
      checkEqual(a.items.length + b.items.length, sent.length, 'deliveries (each message handled exactly once)');
      check(a.items.length > 0 && b.items.length > 0, `both consumers get some (got ${a.items.length} and ${b.items.length})`);
    },
  },
  {
    id: 'MB3',
    title: 'a consumer never holds more than prefetch K unacked deliveries',
    requires: ['prefetch'],
    async run(ctx) {
      const q = ctx.queue();
      const K = 3;
      let held = 0;
      let maxHeld = 0;
      const r = new Receiver(await ctx.consumer(q, { prefetch: K }), {
        onDelivery: (d) => {
          held++;
          maxHeld = Math.max(maxHeld, held);
          setTimeout(() => {
            // Once the ack is on its way the delivery is no longer held; the broker may send the next.
            held--;
            void d.ack();
          }, 300 + Math.random() * 30);
        },
      });
      ctx.defer(() => r.close());
      await ctx.producer().send(q, ids(ctx.name('mb3'), 12).map((id) => ({ id, body: id })));
      await r.waitForUnique(12, ctx.t(30_000), 'all messages', ctx.signal);
      check(maxHeld <= K, `held ${maxHeld} unacked deliveries at once with prefetch ${K}`);
      check(maxHeld >= 1, 'received deliveries');
    },
  },
  {
    id: 'MB4',
    title: 'request/response over a mailbox: the sender waits for the recipient to report completion',
    requires: ['mailbox', 'mailboxRequestResponse'],
    async run(ctx) {
      const q = ctx.queue();
      await ctx.connection.admin.ensureDestination(q);
      const pending = ctx.producer().request(q, 'job-1', { timeoutMs: ctx.t(20_000) });
      await sleep(ctx.t(500), ctx.signal);
      const h = (await ctx.consumer(q)).consume(async (d) => {
        await sleep(100);
        await d.respond({ body: `completed:${d.text()}`, headers: { status: 'ok' } });
      });
      ctx.defer(() => h.close());
      const reply = await pending;
      checkEqual(reply.text(), 'completed:job-1', 'completion reply');
      checkEqual(reply.headers.status, 'ok', 'completion status header');
    },
  },
  {
    id: 'PL1',
    title: 'poll returns at most max; on an empty source it waits about waitMs and returns []',
    requires: ['polling'],
    async run(ctx) {
      const q = ctx.queue();
      const c = await ctx.consumer(q, { ackTimeoutMs: 30_000 });
      const waitMs = 1000;
      const started = Date.now();
      const empty = await c.poll({ max: 10, waitMs });
      const took = Date.now() - started;
      checkEqual(empty.length, 0, 'deliveries from an empty source');
      check(took >= waitMs * 0.8, `an empty poll returned after ${took} ms; it should wait about ${waitMs} ms`);
      check(took <= waitMs + ctx.t(3000), `an empty poll took ${took} ms with waitMs ${waitMs}`);
      const sent = ids(ctx.name('pl1'), 25);
      await ctx.producer().send(q, sent.map((id) => ({ id, body: id })));
      const got = new Set<string>();
      const deadline = Date.now() + ctx.t(20_000);
      while (got.size < sent.length && Date.now() < deadline) {
        const batch = await c.poll({ max: 10, waitMs: 1000 });
        check(batch.length <= 10, `poll({ max: 10 }) returned ${batch.length}`);
        for (const d of batch) {
          got.add(d.id);
          await d.ack();
        }
      }
      checkEqual(got.size, sent.length, 'messages received by polling');
    },
  },
  {
    id: 'PL2',
    title: 'a message arriving during the wait ends the poll early (long polling)',
    requires: ['longPolling'],
    async run(ctx) {
      const q = ctx.queue();
      const c = await ctx.consumer(q);
      const started = Date.now();
      setTimeout(() => void ctx.producer().send(q, 'wake up').catch(() => undefined), 500);
      const waitMs = 8000;
      const got = await c.poll({ max: 10, waitMs });
      const took = Date.now() - started;
      check(got.length >= 1, `the poll returned ${got.length} deliveries after ${took} ms`);
      check(took < waitMs * 0.6, `the poll returned after ${took} ms: the arrival at ~500 ms should end a ${waitMs} ms wait early`);
      await Promise.all(got.map((d) => d.ack()));
    },
  },
  {
    id: 'PL3',
    title: 'polled deliveries need an ack; an unacked one comes back after its ack timeout',
    requires: ['polling', 'ackTimeout'],
    async run(ctx) {
      const q = ctx.queue();
      const ackTimeoutMs = 2000;
      const c = await ctx.consumer(q, { ackTimeoutMs });
      const id = ctx.name('pl3');
      await ctx.producer().send(q, { id, body: 'ack me' });
      const first = await pollFor(c, id, ctx.t(10_000));
      const firstAt = Date.now();
      const again = await pollFor(c, id, ackTimeoutMs + ctx.t(10_000));
      const gap = Date.now() - firstAt;
      check(gap >= ackTimeoutMs * 0.75, `the unacked delivery came back after ${gap} ms, before its ${ackTimeoutMs} ms ack timeout`);
      check(again.attempt >= first.attempt + 1, `attempt went from ${first.attempt} to ${again.attempt}`);
      await again.ack();
    },
  },
];

async function pollFor(c: import('@switchboard/core').Consumer, id: string, timeoutMs: number): Promise<Delivery> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const got = await c.poll({ max: 10, waitMs: Math.min(1000, Math.max(1, deadline - Date.now())) });
    const hit = got.find((d) => d.id === id);
    for (const d of got) if (d !== hit) await d.ack();
    if (hit) return hit;
  }
  throw new Error(`message ${id} was not polled within ${timeoutMs} ms`);
}

