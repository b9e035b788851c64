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
  {
    id: 'RD7',
    title: "per-member options: each member of a group gets its own ackTimeoutMs and maxAttempts, and a member joining with other values changes nothing for the others",
    requires: ['ackTimeout', 'competingConsumers', 'mailbox', 'deadLetter'],
    timeoutMs: 120_000,
    async run(ctx) {
      const p = ctx.producer();
      /**
       * Sends one message at a time until each of `members` got a first delivery (attempt 1);
       * returns which member (index into `members`) got each message first.
       */
      const spread = async (q: ReturnType<CaseContext['queue']>, label: string, members: Receiver[]) => {
        const firstAt = new Map<string, number>();
        const ready = () => members.every((m) => m.items.some((x) => x.delivery.attempt === 1));
        for (let i = 0; i < 40 && !ready(); i++) {
          await p.send(q, { id: `${ctx.name(label)}-${i}`, body: String(i) });
          await sleep(ctx.t(100), ctx.signal);
        }
        await waitUntil(ready, ctx.t(15_000), () => `a first delivery at every member (${members.map((m) => m.items.length).join(', ')})`, ctx.signal);
        members.forEach((m, i) => m.items.filter((x) => x.delivery.attempt === 1).forEach((x) => firstAt.set(x.delivery.id, i)));
        return firstAt;
      };

      // 1. ackTimeoutMs: the patient member joins first, the impatient one second. Both hold what they get.
      const q1 = ctx.queue();
      const shortMs = ctx.t(1500);
      const hold = () => undefined;
      const patient = new Receiver(await ctx.consumer(q1, { group: 'g', prefetch: 4, ackTimeoutMs: ctx.t(60_000) }), { onDelivery: hold });
      ctx.defer(() => patient.close());
      const impatient = new Receiver(await ctx.consumer(q1, { group: 'g', prefetch: 4, ackTimeoutMs: shortMs }), { onDelivery: hold });
      ctx.defer(() => impatient.close());
      const firstAt = await spread(q1, 'rd7-timeout', [patient, impatient]);
      await sleep(shortMs * 4, ctx.signal);
      const all = [...patient.items, ...impatient.items];
      const count = (id: string) => all.filter((x) => x.delivery.id === id).length;
      const patientIds = [...firstAt].filter(([, m]) => m === 0).map(([id]) => id);
      const impatientIds = [...firstAt].filter(([, m]) => m === 1).map(([id]) => id);
      ctx.note(`held first: ${patientIds.length} by the 60 s member, ${impatientIds.length} by the ${shortMs} ms member`);
      const early = patientIds.filter((id) => count(id) > 1);
      check(early.length === 0, `${early.length} deliveries held by the member with a 60 s ack timeout came back after ${shortMs * 4} ms: the other member's ${shortMs} ms timeout applied to them`);
      const back = impatientIds.filter((id) => count(id) > 1);
      check(back.length > 0, `none of the ${impatientIds.length} deliveries held by the member with a ${shortMs} ms ack timeout came back within ${shortMs * 4} ms`);

      // 2. maxAttempts: a member allowing 5 attempts joins first, one allowing 1 joins second. Both nack.
      const q2 = ctx.queue();
      const dlq = new Receiver(await ctx.consumer(ctx.queue('dlq'), { group: 'dlq' }));
      ctx.defer(() => dlq.close());
      const dlqName = dlq.consumer.source;
      const fail = async (d: Delivery) => d.nack();
      const lenient = new Receiver(await ctx.consumer(q2, { group: 'g', prefetch: 1, maxAttempts: 5, deadLetter: dlqName }), { onDelivery: fail });
      ctx.defer(() => lenient.close());
      const strict = new Receiver(await ctx.consumer(q2, { group: 'g', prefetch: 1, maxAttempts: 1, deadLetter: dlqName }), { onDelivery: fail });
      ctx.defer(() => strict.close());
      // The strict member may see no first delivery: what the lenient one fails can reach it first.
      const firstAt2 = await spread(q2, 'rd7-attempts', [lenient]);
      const all2 = () => [...lenient.items, ...strict.items];
      const lenientIds = [...firstAt2].filter(([, m]) => m === 0).map(([id]) => id);
      const inDlq = (id: string) => dlq.deliveries.some((d) => d.id === id || d.text().includes(id));
      // A failure at the lenient member (attempt 1 of 5) is not its last: the message is tried again
      // somewhere, or dead-lettered by the strict member on receipt (it already used up the 1 attempt
      // that member allows). It never just stops, as it would if the strict member's maxAttempts 1
      // had become the whole group's.
      await waitUntil(
        () => lenientIds.every((id) => inDlq(id) || all2().some((x) => x.delivery.id === id && x.delivery.attempt >= 2)),
        ctx.t(20_000),
        () =>
          `a second attempt or a dead letter of each of the ${lenientIds.length} messages the member with maxAttempts 5 failed first (still missing: ${lenientIds
            .filter((id) => !inDlq(id) && !all2().some((x) => x.delivery.id === id && x.delivery.attempt >= 2))
            .slice(0, 3)
            .join(', ')})`,
        ctx.signal,
      );
      const retried = lenientIds.filter((id) => all2().some((x) => x.delivery.id === id && x.delivery.attempt >= 2));
      ctx.note(`${retried.length} of ${lenientIds.length} messages failed first at the lenient member were tried again, the rest dead-lettered on receipt by the strict member`);
      // A failure at the strict member is its last: every message it saw ends up dead-lettered, and never comes again.
      const strictSeen = [...new Set(strict.items.map((x) => x.delivery.id))];
      ctx.note(`the strict member handled ${strictSeen.length} messages`);
      for (const id of strictSeen) await deadLetterOf(ctx, dlq, id);
      const lastStrict = new Map(strict.items.map((x) => [x.delivery.id, x.at]));
      await sleep(ctx.t(1000), ctx.signal);
      const after = all2().filter((x) => lastStrict.has(x.delivery.id) && x.at > lastStrict.get(x.delivery.id)!);
      check(after.length === 0, `${after.length} messages failed by the member with maxAttempts 1 were delivered again (${after.slice(0, 3).map((x) => `${x.delivery.id}#${x.delivery.attempt}`).join(', ')})`);
    },
  },
];
