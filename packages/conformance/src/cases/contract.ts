import { DEAD_LETTER_REASON_MAX, HEADERS, SwitchboardError, type Destination } from '@switchboard/core';
import type { ConformanceCase } from '../case';
import { check, checkEqual, checkRejects, sleep } from '../check';
import { Receiver } from '../receiver';
import { deadLetterOf } from './redelivery';

/**
 * CT: the API contract core builds for every driver. Each case pins one promise that the hand-written
 * adapters once kept differently (receipt fields, request validation, consumer signal, producer close,
 * dead-letter headers), so a driver that bypasses core's shared path fails here.
 */
export const contractCases: ConformanceCase[] = [
  {
    id: 'CT1',
    title: 'receipts: one per message in order, with the given id, the bare destination name, and a brokerRef only when confirmed',
    requires: [],
    async run(ctx) {
      const q: Destination = ctx.queue();
      await ctx.connection.admin.ensureDestination(q);
      const p = ctx.producer();
      const first = ctx.name('ct1-a');
      const one = await p.send(q, { id: first, body: 'a' });
      checkEqual(one.id, first, 'receipt id of a single send');
      checkEqual(one.destination, q.name, 'receipt destination (the bare name, without the kind)');
      const confirmed = ctx.capabilities.confirm.level !== 'none';
      checkEqual(one.confirmed, confirmed, 'confirmed on a confirmed send');
      if (confirmed) check(typeof one.brokerRef === 'string' && one.brokerRef.length > 0, `a confirmed receipt carries the broker's reference, got ${JSON.stringify(one.brokerRef)}`);
      const ids = [ctx.name('ct1-b'), ctx.name('ct1-c'), ctx.name('ct1-d')];
      const batch = await p.send(q, ids.map((id) => ({ id, body: id })));
      check(Array.isArray(batch), 'a batch send resolves with an array');
      checkEqual(JSON.stringify(batch.map((r) => r.id)), JSON.stringify(ids), 'batch receipt ids, in send order');
      for (const r of batch) checkEqual(r.destination, q.name, 'batch receipt destination');
      const t: Destination = ctx.topic();
      await ctx.connection.admin.ensureDestination(t);
      const loose = await p.send(t, { id: ctx.name('ct1-e'), body: 'e' }, { confirm: false });
      checkEqual(loose.destination, t.name, 'fire-and-forget receipt destination on a topic');
      checkEqual(loose.confirmed, false, 'confirmed on a fire-and-forget send');
      checkEqual(loose.brokerRef, undefined, 'brokerRef on a fire-and-forget send');
    },
  },
  {
    id: 'CT2',
    title: 'request options are validated before anything is sent: bad timeoutMs or unknown options are invalid-argument errors',
    requires: ['requestResponse'],
    async run(ctx) {
      const q = ctx.queue();
      const r = new Receiver(await ctx.consumer(q));
      ctx.defer(() => r.close());
      const p = ctx.producer();
      for (const timeoutMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, '100' as unknown as number]) {
        await checkRejects(() => p.request(q, 'ping', { timeoutMs }), ['invalid_argument'], `request with timeoutMs ${String(timeoutMs)}`);
      }
      await checkRejects(() => p.request(q, 'ping', { timeout: 100 } as never), ['invalid_argument'], 'request with an unknown option "timeout"');
      await sleep(ctx.t(1000), ctx.signal);
      checkEqual(r.items.length, 0, 'messages delivered from the refused requests');
    },
  },
  {
    id: 'CT3',
    title: "a consumer's signal closes it: afterwards poll and subscribe fail with closed, and a running consume loop ends",
    requires: [],
    async run(ctx) {
      const q = ctx.queue();
      const ac = new AbortController();
      const c = await ctx.consumer(q, { signal: ac.signal });
      const handle = c.consume(() => undefined);
      ac.abort();
      let ended = false;
      void handle.done.then(
        () => (ended = true),
        () => (ended = true),
      );
      const deadline = Date.now() + ctx.t(10_000);
      while (!ended && Date.now() < deadline) await sleep(20, ctx.signal);
      check(ended, 'the consume loop is still running after its consumer signal fired');
      await checkRejects(() => c.poll({ max: 1 }), ['closed'], 'poll after the signal fired');
      await checkRejects(() => c.subscribe(), ['closed'], 'subscribe after the signal fired');
      await checkRejects(() => ctx.consumer(q, { signal: AbortSignal.abort() }), ['aborted'], 'consumer() with a signal that already fired');
    },
  },
  {
    id: 'CT4',
    title: 'closing a producer rejects its pending requests with closed, at once',
    requires: ['requestResponse'],
    async run(ctx) {
      const q = ctx.queue();
      // A responder that takes the request and never answers, so the request stays pending (and
      // brokers that know when nobody listens, such as core NATS, do not fail it with no_responders).
      const silent = (await ctx.consumer(q)).consume(() => undefined);
      ctx.defer(() => silent.close());
      const p = ctx.connection.producer();
      const started = Date.now();
      const pending = p.request(q, 'nobody answers', { timeoutMs: ctx.t(30_000) }).then(
        () => undefined,
        (err: unknown) => err,
      );
      await sleep(ctx.t(300), ctx.signal);
      await p.close();
      const err = await pending;
      check(err instanceof SwitchboardError, `the pending request should reject with a SwitchboardError, got ${String(err)}`);
      checkEqual(err.code, 'closed', 'error code of a request pending at close');
      check(Date.now() - started < ctx.t(10_000), `the request rejected only after ${Date.now() - started} ms`);
      await checkRejects(() => p.send(q, 'after close'), ['closed'], 'send on the closed producer');
    },
  },
  {
    id: 'CT5',
    title: `dead letters carry the same header set everywhere, the reason cut to ${DEAD_LETTER_REASON_MAX} characters`,
    requires: ['deadLetter'],
    async run(ctx) {
      const q = ctx.queue();
      const dlqDest = ctx.queue('dlq');
      const dlq = new Receiver(await ctx.consumer(dlqDest));
      ctx.defer(() => dlq.close());
      const longReason = `ct5-${'r'.repeat(DEAD_LETTER_REASON_MAX * 2)}`;
      const h = (await ctx.consumer(q, { maxAttempts: 1, deadLetter: dlqDest })).consume(() => {
        throw new Error(longReason);
      });
      ctx.defer(() => h.close());
      const id = ctx.name('ct5');
      await ctx.producer().send(q, { id, body: `dead ${id}`, headers: { 'x-keep': 'kept' } });
      const dl = await deadLetterOf(ctx, dlq, id);
      const reason = dl.headers[HEADERS.deadLetterReason] ?? '';
      check(reason.startsWith('ct5-rrr'), `${HEADERS.deadLetterReason} should start with the handler's error, got ${JSON.stringify(reason.slice(0, 40))}`);
      check(reason.length <= DEAD_LETTER_REASON_MAX, `${HEADERS.deadLetterReason} is ${reason.length} characters; at most ${DEAD_LETTER_REASON_MAX}`);
      checkEqual(dl.headers[HEADERS.deadLetterAttempts], '1', HEADERS.deadLetterAttempts);
      checkEqual(dl.headers[HEADERS.deadLetterSource], `queue:${q.name}`, HEADERS.deadLetterSource);
      check((dl.headers[HEADERS.deadLetterSourceRef] ?? '').length > 0, `${HEADERS.deadLetterSourceRef} should name the source reference`);
      checkEqual(dl.headers['x-keep'], 'kept', 'the original header on the dead letter');
    },
  },
];
