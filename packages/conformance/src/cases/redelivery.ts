import { HEADERS, type Delivery } from '@switchboard/core';
import type { CaseContext, ConformanceCase } from '../case';
import { check, checkEqual, sleep, waitUntil } from '../check';
import { Receiver } from '../receiver';

/** Waits for the dead letter of message `id` on `dlq` and returns it. */
export async function deadLetterOf(ctx: CaseContext, dlq: Receiver, id: string): Promise<Delivery> {
  await dlq.waitFor((r) => r.deliveries.some((d) => d.id === id || d.text().includes(id)), ctx.t(30_000), `message ${id} in the dead-letter destination`, ctx.signal);
  return dlq.deliveries.find((d) => d.id === id || d.text().includes(id))!;
}

/** S4 redelivery control. */
export const redeliveryCases: ConformanceCase[] = [
  {
    id: 'RD1',
    title: 'an unacked delivery comes back after the ack timeout; extend() keeps it away longer',
    requires: ['ackTimeout', 'extend'],
    async run(ctx) {
      const q = ctx.queue();
      const ackTimeoutMs = 2000;
      const r = new Receiver(await ctx.consumer(q, { ackTimeoutMs }), { onDelivery: () => undefined });
      ctx.defer(() => r.close());
      const plain = ctx.name('plain');
      const extended = ctx.name('extended');
      await ctx.producer().send(q, [{ id: plain, body: 'plain' }, { id: extended, body: 'extended' }]);
      await r.waitForUnique(2, ctx.t(10_000), 'both messages', ctx.signal);
      const firstAt = r.items.find((i) => i.delivery.id === plain)!.at;
      const ext = r.deliveries.find((d) => d.id === extended)!;
      await sleep(ackTimeoutMs / 2, ctx.signal);
      await ext.extend(5000);
      await r.waitFor((x) => x.count(plain) >= 2, ackTimeoutMs + ctx.t(10_000), 'the unacked message to come back', ctx.signal);
      const back = r.items.filter((i) => i.delivery.id === plain)[1]!;
      const gap = back.at - firstAt;
      check(gap >= ackTimeoutMs * 0.75, `the unacked message came back after ${gap} ms, before its ${ackTimeoutMs} ms ack timeout`);
      check(back.delivery.attempt >= 2, `a redelivery has attempt >= 2 (got ${back.delivery.attempt})`);
      await back.delivery.ack();
      const waitUntilCheck = firstAt + ackTimeoutMs / 2 + 5000 * 0.8 - Date.now();
      if (waitUntilCheck > 0) await sleep(waitUntilCheck, ctx.signal);
      checkEqual(r.count(extended), 1, `deliveries of the extended message ${Date.now() - firstAt} ms after it first arrived (extended to ~${ackTimeoutMs / 2 + 5000} ms)`);
      await ext.ack();
    },
  },
  {
    id: 'RD2',
    title: 'nack({ delayMs }): the message is not delivered again before the delay',
    requires: ['nackDelay'],
    async run(ctx) {
      const q = ctx.queue();
      const delayMs = 2000;
      let nackedAt = 0;
      const r = new Receiver(await ctx.consumer(q, { ackTimeoutMs: 30_000 }), {
        onDelivery: async (d) => {
          if (d.attempt === 1) {
            nackedAt = Date.now();
            await d.nack({ delayMs });
          } else await d.ack();
        },
      });
      ctx.defer(() => r.close());
      const id = ctx.name('rd2');
      await ctx.producer().send(q, { id, body: 'later' });
      await r.waitFor((x) => x.count(id) >= 2, delayMs + ctx.t(15_000), 'the nacked message to come back', ctx.signal);
      const gap = r.items.filter((i) => i.delivery.id === id)[1]!.at - nackedAt;
      check(gap >= delayMs * 0.9, `redelivered ${gap} ms after nack({ delayMs: ${delayMs} })`);
    },
  },
  {
    id: 'RD3',
    title: 'after maxAttempts failures the message is dead-lettered with body, headers, attempts and last error',
    requires: ['deadLetter'],
    async run(ctx) {
      const q = ctx.queue();
      const dlqDest = ctx.queue('dlq');
      const dlq = new Receiver(await ctx.consumer(dlqDest));
      ctx.defer(() => dlq.close());
      const attempts: number[] = [];
      const h = (await ctx.consumer(q, { maxAttempts: 3, deadLetter: dlqDest, ackTimeoutMs: 30_000 })).consume((d) => {
        attempts.push(d.attempt);
        throw new Error(`boom-rd3 on attempt ${d.attempt}`);
      });
      ctx.defer(() => h.close());
      const id = ctx.name('rd3');
      const original = { 'x-origin': 'rd3', 'x-tenant': 't-7', 'x-trace': 'abc', 'x-last': 'z' };
      await ctx.producer().send(q, { id, body: `poison ${id}`, headers: original });
      const dl = await deadLetterOf(ctx, dlq, id);
      checkEqual(dl.text(), `poison ${id}`, 'dead letter body');
      for (const [k, v] of Object.entries(original)) checkEqual(dl.headers[k], v, `original header ${k} on the dead letter`);
      checkEqual(dl.headers[HEADERS.deadLetterAttempts], '3', `${HEADERS.deadLetterAttempts} header`);
      check((dl.headers[HEADERS.deadLetterReason] ?? '').includes('boom-rd3'), `${HEADERS.deadLetterReason} should hold the last error, got ${JSON.stringify(dl.headers[HEADERS.deadLetterReason])}`);
      await sleep(ctx.t(2000), ctx.signal);
      checkEqual(JSON.stringify(attempts), '[1,2,3]', 'attempts before dead-lettering (it must stop coming back)');
      checkEqual(dlq.count(dl.id), 1, 'copies in the dead-letter destination');
    },
  },
  {
    id: 'RD4',
    title: 'reject(reason) sends the message straight to the dead-letter destination, no retry',
    requires: ['reject', 'deadLetter'],
    async run(ctx) {
      const q = ctx.queue();
      const dlqDest = ctx.queue('dlq');
      const dlq = new Receiver(await ctx.consumer(dlqDest));
      ctx.defer(() => dlq.close());
      let seen = 0;
      const r = new Receiver(await ctx.consumer(q, { maxAttempts: 5, deadLetter: dlqDest }), {
        onDelivery: async (d) => {
          seen++;
          await d.reject('bad-input-rd4');
        },
      });
      ctx.defer(() => r.close());
      const id = ctx.name('rd4');
      await ctx.producer().send(q, { id, body: `reject ${id}` });
      const dl = await deadLetterOf(ctx, dlq, id);
      check((dl.headers[HEADERS.deadLetterReason] ?? '').includes('bad-input-rd4'), `${HEADERS.deadLetterReason} should hold the reject reason, got ${JSON.stringify(dl.headers[HEADERS.deadLetterReason])}`);
      await sleep(ctx.t(1500), ctx.signal);
      checkEqual(seen, 1, 'deliveries of a rejected message');
    },
  },
  {
    id: 'RD5',
    title: 'delayed send: not delivered before the delay',
    requires: ['delayedSend'],
    async run(ctx) {
      const q = ctx.queue();
      const r = new Receiver(await ctx.consumer(q));
      ctx.defer(() => r.close());
      const delayMs = 2000;
      const id = ctx.name('rd5');
      const sentAt = Date.now();
      await ctx.producer().send(q, { id, body: 'later' }, { delayMs });
      const now = ctx.name('now');
      await ctx.producer().send(q, { id: now, body: 'now' });
      await r.waitFor((x) => x.count(id) > 0, delayMs + ctx.t(15_000), 'the delayed message', ctx.signal);
      const gap = r.items.find((i) => i.delivery.id === id)!.at - sentAt;
      check(gap >= delayMs * 0.9, `a message sent with delayMs ${delayMs} arrived after ${gap} ms`);
      check(r.count(now) > 0, 'an undelayed message sent after it was not held back');
    },
  },
  {
    id: 'RD6',
    title: "a stuck handler's delivery goes to another member of the group after the ack timeout",
    requires: ['ackTimeout', 'competingConsumers', 'mailbox'],
    async run(ctx) {
      const q = ctx.queue();
      const ackTimeoutMs = ctx.t(1000);
      const handled: { member: string; attempt: number }[] = [];
      let unstick!: () => void;
      const stuck = new Promise<void>((resolve) => (unstick = resolve));
      ctx.defer(() => unstick());
      const member = async (name: string) =>
        (await ctx.consumer(q, { prefetch: 1, ackTimeoutMs })).consume(async (d) => {
          handled.push({ member: name, attempt: d.attempt });
          // Whoever gets the first delivery hangs: a handler stuck on a dead downstream.
          if (d.attempt === 1) await stuck;
        });
      const handles = [await member('a'), await member('b')];
      ctx.defer(() => Promise.all(handles.map((h) => h.close())));
      await ctx.producer().send(q, { id: ctx.name('rd6'), body: 'stuck once' });
      await waitUntil(() => handled.length > 0, ctx.t(15_000), () => 'the first delivery', ctx.signal);
      const first = handled[0]!.member;
      await waitUntil(
        () => handled.some((h) => h.member !== first),
        ackTimeoutMs * 6 + ctx.t(5000),
        () => `the delivery at the other member (handled so far: ${JSON.stringify(handled)})`,
        ctx.signal,
      );
      const other = handled.find((h) => h.member !== first)!;
      check(other.attempt >= 2, `the other member got attempt ${other.attempt}; a redelivery after the timeout counts on`);
      unstick();
    },
  },
];
