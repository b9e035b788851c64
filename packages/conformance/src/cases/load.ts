import type { ConformanceCase } from '../case';
import { check, waitUntil } from '../check';

/** L load. */
export const loadCases: ConformanceCase[] = [
  {
    id: 'L1',
    title: 'N messages: sent = confirmed = received-unique; duplicates counted',
    requires: ['confirm'],
    timeoutMs: 1_800_000,
    async run(ctx) {
      const N = ctx.options.loadCount ?? 100_000;
      const q = ctx.queue();
      const seen = new Set<string>();
      let duplicates = 0;
      const c = await ctx.consumer(q, { prefetch: 1000 });
      const h = c.consume((d) => {
        if (seen.has(d.id)) duplicates++;
        else seen.add(d.id);
      }, { concurrency: 64 });
      ctx.defer(() => h.close());
      const p = ctx.producer();
      const prefix = ctx.name('l1');
      const batch = 500;
      let confirmed = 0;
      const started = Date.now();
      let next = 0;
      const lane = async () => {
        while (next < N) {
          const from = next;
          next = Math.min(N, next + batch);
          const msgs = [];
          for (let i = from; i < next; i++) msgs.push({ id: `${prefix}-${i}`, body: `m${i}` });
          const receipts = await p.send(q, msgs);
          confirmed += receipts.filter((x) => x.confirmed).length;
        }
      };
      await Promise.all([lane(), lane(), lane(), lane()]);
      const sentMs = Date.now() - started;
      await waitUntil(() => seen.size >= N, ctx.t(120_000 + N), () => `${N} unique messages (got ${seen.size})`, ctx.signal);
      const totalMs = Date.now() - started;
      ctx.note(`N=${N} sent=${N} confirmed=${confirmed} received-unique=${seen.size} duplicates=${duplicates}; sent in ${sentMs} ms, all received in ${totalMs} ms (${Math.round((N / totalMs) * 1000)} msg/s end to end)`);
      check(confirmed === N, `confirmed ${confirmed} of ${N}`);
      check(seen.size === N, `received ${seen.size} unique of ${N}`);
    },
  },
];
