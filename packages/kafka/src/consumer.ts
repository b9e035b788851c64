import {
  abortedError,
  closedError,
  createConsumer,
  createDelivery,
  HEADERS,
  SwitchboardError,
  type Consumer,
  type Delivery,
  type DeliverySettler,
  type Destination,
  type NormalizedMessage,
  type ResolvedConsumerOptions,
} from '@switchboard/core';
import type { Consumer as KafkaConsumer, EachBatchPayload } from 'kafkajs';
import { classifyError } from './classify-error';
import type { KafkaConnection } from './connection';
import { groupId, parseRef, retryTopic } from './naming';
import { consumerConfig } from './options';
import { PartitionTracker } from './offset-tracker';
import { retrying } from './retrying';
import { decodeRecord, KAFKA_HEADERS, type KafkaRecord } from './records';

/** A Switchboard consumer over kafkajs, with the promise that settles when it closed. */
export type KafkaConsumerCore = Consumer;

interface Entry {
  rec: KafkaRecord;
  state: 'buffered' | 'out' | 'done';
  delivery?: Delivery;
  timer?: NodeJS.Timeout;
  /** The ack deadline passed and the record was re-published: a late ack cannot undo that. */
  expired?: boolean;
  /** The partition went to another member, which will deliver the record again. */
  revoked?: boolean;
  settling?: boolean;
}

/** Consecutive self-restarts after crashes kafkajs does not recover from, before the subscription fails. */
const MAX_RESTARTS = 5;

/** How long close() waits for handed-out deliveries to be settled before it gives them back. */
const CLOSE_GRACE_MS = 1000;

let instances = 0;
const DEBUG = process.env.SB_KAFKA_DEBUG === '1';
const debug = (...a: unknown[]) => {
  if (DEBUG) process.stderr.write(`[sb-kafka ${new Date().toISOString().slice(11, 23)}] ${a.join(' ')}\n`);
};

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const entryKey = (r: KafkaRecord) => `${r.topic}\u0000${r.partition}\u0000${r.offset}`;
const REBALANCE_TYPES = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'NOT_COORDINATOR', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'COORDINATOR_NOT_AVAILABLE']);

/**
 * Creates a consumer that is ready when it resolves: the group is joined, partitions are assigned,
 * and a new group's start positions are resolved and committed, so nothing sent afterwards is missed.
 */
export async function createKafkaConsumer(conn: KafkaConnection, source: Destination, options: ResolvedConsumerOptions, onClosed: () => void): Promise<Consumer> {
  const core = new ConsumerCore(conn, source, options, onClosed);
  try {
    await core.start();
  } catch (err) {
    await core.shutdown().catch(() => undefined);
    throw err instanceof SwitchboardError ? err : classifyError(err);
  }
  return createConsumer({
    source,
    group: options.group,
    startPush: (deliver, fail) => core.startPush(deliver, fail),
    poll: (max, waitMs, signal) => core.poll(max, waitMs, signal),
    release: (d) => core.release(d),
    close: () => core.shutdown(),
  });
}

class ConsumerCore {
  readonly gid: string;
  readonly retry: string;
  private kc: KafkaConsumer | undefined;
  private readonly trackers = new Map<string, PartitionTracker>();
  private assigned = new Set<string>();
  private buffered: Entry[] = [];
  private readonly out = new Map<string, Entry>();
  private readonly byDelivery = new WeakMap<Delivery, Entry>();
  private readonly capacityPaused = new Set<string>();
  private readonly delayPaused = new Map<string, NodeJS.Timeout>();
  private sink: ((d: Delivery) => void) | undefined;
  private failSink: ((err: unknown) => void) | undefined;
  private readonly waiters = new Set<() => void>();
  private initialSeeks: Map<number, number> | undefined;
  private closing = false;
  private closed = false;
  private shutdownP: Promise<void> | undefined;
  private committing: Promise<void> | undefined;
  private commitWanted = false;
  private ready!: { resolve: () => void; reject: (e: unknown) => void; done: boolean };
  private readyP!: Promise<void>;
  private inBatch: Promise<void> | undefined;
  private restarts = 0;
  /** Whether the kafkajs runner is running: it silently drops commits while it is not. */
  private kRunning = false;
  private pendingInitial: (() => void) | undefined;
  private readonly iid = ++instances;

  constructor(
    private readonly conn: KafkaConnection,
    readonly source: Destination,
    private readonly opts: ResolvedConsumerOptions,
    private readonly onClosed: () => void,
  ) {
    this.gid = groupId(source, opts.group);
    this.retry = retryTopic(source, opts.group);
  }

  private get held(): number {
    return this.buffered.length + this.out.size;
  }

  async start(): Promise<void> {
    const signal = this.opts.signal;
    if (signal?.aborted) throw abortedError(signal);
    const o = this.conn.options;
    await this.conn.topics.ensure([this.source.name, this.retry]);
    this.initialSeeks = await retrying(() => this.resolveStart());
    debug(this.gid, this.iid, 'start seeks', JSON.stringify([...this.initialSeeks]));
    if (this.initialSeeks.size === 0) this.initialSeeks = undefined;

    this.readyP = new Promise<void>((resolve, reject) => {
      this.ready = { resolve, reject, done: false };
    });
    this.readyP.catch(() => undefined);
    await this.run();
    const limit = Math.max(30_000, o.sessionTimeoutMs + o.rebalanceTimeoutMs);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.readyP,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new SwitchboardError('timeout', `kafka: group ${this.gid} did not assign partitions within ${limit} ms`)), limit);
        }),
        new Promise<never>((_, reject) => {
          if (!signal) return;
          onAbort = () => reject(abortedError(signal));
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Creates, connects and runs the kafkajs consumer (again after a crash kafkajs does not restart). */
  private async run(): Promise<void> {
    const kc = this.conn.kafka.consumer(consumerConfig(this.conn.options, this.gid));
    this.kc = kc;
    kc.on(kc.events.GROUP_JOIN, (e) => {
      if (this.kc !== kc) return;
      this.restarts = 0;
      this.onJoin(e.payload.memberAssignment);
    });
    kc.on(kc.events.REBALANCING, () => void this.requestCommit());
    kc.on(kc.events.FETCH_START, () => {
      if (this.kc !== kc || this.kRunning) return;
      this.kRunning = true;
      this.flushInitial();
      void this.requestCommit();
    });
    const stopped = () => {
      if (this.kc === kc) this.kRunning = false;
    };
    kc.on(kc.events.STOP, stopped);
    kc.on(kc.events.DISCONNECT, stopped);
    if (DEBUG) {
      let n = 0;
      kc.on(kc.events.FETCH, (e) => {
        if (n++ % 20 === 0) debug(this.gid, this.iid, 'fetch#', n, JSON.stringify(e.payload));
      });
      kc.on(kc.events.START_BATCH_PROCESS, (e) => debug(this.gid, this.iid, 'start batch', JSON.stringify(e.payload)));
    }
    kc.on(kc.events.CRASH, (e) => {
      if (this.kc === kc) this.kRunning = false;
      if (e.payload.restart || this.closing || this.kc !== kc) return;
      const err = classifyError(e.payload.error);
      if (!this.ready.done) {
        this.ready.reject(err);
        return;
      }
      // kafkajs gives up on errors it deems fatal; a broker restart can cause some. Start over a
      // few times (positions come from the committed offsets) before failing the subscription.
      if (this.restarts++ >= MAX_RESTARTS) {
        this.failSink?.(err);
        return;
      }
      const timer = setTimeout(() => {
        if (this.closing || this.kc !== kc) return;
        void kc
          .disconnect()
          .catch(() => undefined)
          .then(() => (this.closing ? undefined : this.run()))
          .catch((e2: unknown) => this.failSink?.(classifyError(e2)));
      }, 1000 * this.restarts);
      timer.unref();
    });
    await kc.connect();
    const fromBeginning = this.source.kind === 'queue' || this.opts.from !== 'latest';
    await kc.subscribe({ topics: [this.source.name], fromBeginning });
    await kc.subscribe({ topics: [this.retry], fromBeginning: true });
    await kc.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (p) => {
        const run = this.eachBatch(p);
        this.inBatch = run.finally(() => {
          if (this.inBatch === run) this.inBatch = undefined;
        });
        return run;
      },
    });
  }

  /** Start offsets for the source partitions this group has no committed offset for. */
  private async resolveStart(): Promise<Map<number, number>> {
    const admin = this.conn.kadmin;
    const topic = this.source.name;
    const seeks = new Map<number, number>();
    const committed = await admin.fetchOffsets({ groupId: this.gid, topics: [topic] });
    const open = (committed.find((t) => t.topic === topic)?.partitions ?? []).filter((p) => Number(p.offset) < 0).map((p) => p.partition);
    if (open.length === 0) return seeks;
    const marks = await admin.fetchTopicOffsets(topic);
    const lowHigh = new Map(marks.map((m) => [m.partition, { low: Number(m.low), high: Number(m.high) }]));
    const clamp = (p: number, v: number) => {
      const lh = lowHigh.get(p) ?? { low: 0, high: 0 };
      return Math.min(Math.max(v, lh.low), lh.high);
    };
    const from = this.source.kind === 'queue' ? 'earliest' : this.opts.from;
    let byTime: Map<number, number> | undefined;
    if (typeof from === 'object' && 'timestamp' in from) {
      const ts = from.timestamp instanceof Date ? from.timestamp.getTime() : from.timestamp;
      const r = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
      byTime = new Map(r.map((x) => [x.partition, Number(x.offset)]));
    }
    let ref: { partition: number | undefined; offset: number } | undefined;
    if (typeof from === 'object' && 'offset' in from) {
      ref = parseRef(from.offset);
      if (!ref) throw new SwitchboardError('invalid_argument', `kafka: from.offset "${String(from.offset)}" is neither an offset nor "<partition>:<offset>"`);
    }
    for (const p of open) {
      const lh = lowHigh.get(p) ?? { low: 0, high: 0 };
      let v: number;
      if (from === 'earliest') v = lh.low;
      else if (from === 'latest') v = lh.high;
      else if (byTime) v = byTime.get(p) ?? lh.high;
      else if (ref) v = ref.partition === undefined || ref.partition === p ? ref.offset : lh.low;
      else v = lh.high;
      seeks.set(p, clamp(p, v < 0 ? lh.high : v));
    }
    return seeks;
  }

  private onJoin(assignment: Record<string, number[]>): void {
    debug(this.gid, this.iid, 'join', JSON.stringify(assignment), 'seeks', JSON.stringify([...(this.initialSeeks ?? [])]));
    const now = new Set<string>();
    for (const [topic, parts] of Object.entries(assignment)) for (const p of parts) now.add(tpKey(topic, p));
    for (const tp of this.assigned) if (!now.has(tp)) this.dropPartition(tp);
    this.assigned = now;
    const kc = this.kc!;
    // Re-apply pauses: a rejoin builds fresh subscription state.
    for (const tp of [...this.capacityPaused, ...this.delayPaused.keys()]) {
      if (!now.has(tp)) continue;
      const [topic, p] = tp.split('\u0000');
      kc.pause([{ topic: topic!, partitions: [Number(p)] }]);
    }
    const seeks = this.initialSeeks;
    if (seeks) {
      const commits: { topic: string; partition: number; offset: string }[] = [];
      for (const p of assignment[this.source.name] ?? []) {
        const off = seeks.get(p);
        if (off === undefined) continue;
        kc.seek({ topic: this.source.name, partition: p, offset: String(off) });
        commits.push({ topic: this.source.name, partition: p, offset: String(off) });
      }
      const finish = () => {
        debug(this.gid, this.iid, 'initial commit done', JSON.stringify(commits));
        this.initialSeeks = undefined;
        if (!this.ready.done) {
          this.ready.done = true;
          this.ready.resolve();
        }
      };
      if (commits.length === 0) finish();
      else {
        // kafkajs drops commits silently while its runner is not running yet (during the first
        // join of a run), so the commit waits for the first fetch of this run when needed.
        this.pendingInitial = () => {
          kc.commitOffsets(commits).then(finish, (e: unknown) => {
            debug(this.gid, this.iid, 'initial commit failed', String(e));
            // A rebalance overtook the commit: the next join applies the seeks again.
          });
        };
        if (this.kRunning) this.flushInitial();
      }
    } else if (!this.ready.done) {
      this.ready.done = true;
      this.ready.resolve();
    }
    void this.requestCommit();
  }

  private flushInitial(): void {
    const f = this.pendingInitial;
    this.pendingInitial = undefined;
    f?.();
  }

  private dropPartition(tp: string): void {
    this.trackers.delete(tp);
    this.capacityPaused.delete(tp);
    const t = this.delayPaused.get(tp);
    if (t) clearTimeout(t);
    this.delayPaused.delete(tp);
    this.buffered = this.buffered.filter((e) => tpKey(e.rec.topic, e.rec.partition) !== tp);
    for (const [k, e] of this.out) {
      if (tpKey(e.rec.topic, e.rec.partition) !== tp) continue;
      e.revoked = true;
      clearTimeout(e.timer);
      this.out.delete(k);
    }
  }

  private tracker(tp: string): PartitionTracker {
    let t = this.trackers.get(tp);
    if (!t) this.trackers.set(tp, (t = new PartitionTracker()));
    return t;
  }

  private isPaused(tp: string): boolean {
    return this.capacityPaused.has(tp) || this.delayPaused.has(tp);
  }

  private async eachBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const tp = tpKey(topic, partition);
    debug(this.gid, this.iid, 'batch', topic, partition, batch.firstOffset(), batch.lastOffset(), batch.messages.length, 'assigned', this.assigned.has(tp), 'paused', this.isPaused(tp), 'held', this.held);
    const tracker = this.tracker(tp);
    const kc = this.kc!;
    const atMostOnce = this.opts.ackMode === 'at-most-once';
    const early: KafkaRecord[] = [];
    for (const m of batch.messages) {
      if (this.closing || !isRunning() || isStale() || this.isPaused(tp) || !this.assigned.has(tp)) break;
      const offset = Number(m.offset);
      if (tracker.seen(offset)) {
        resolveOffset(m.offset);
        continue;
      }
      const rec = decodeRecord(topic, partition, m);
      if (rec.notBefore !== undefined && rec.notBefore > Date.now()) {
        if (topic === this.retry) {
          this.pauseUntil(tp, rec.notBefore);
          break;
        }
        // A delayed send: park it in this group's retry topic, which waits until it is due.
        tracker.add(offset);
        try {
          await this.republish(rec, rec.attempt, rec.notBefore);
        } catch {
          // Not moved: it stays open, so the commit cannot pass it; fetch it again shortly.
          this.pauseUntil(tp, Date.now() + 500);
          break;
        }
        tracker.finish(offset);
        resolveOffset(m.offset);
        void this.requestCommit();
        continue;
      }
      if (this.opts.filter && !Object.entries(this.opts.filter).every(([k, v]) => rec.headers[k] === v)) {
        tracker.add(offset, true);
        resolveOffset(m.offset);
        void this.requestCommit();
        continue;
      }
      if (this.held >= this.opts.prefetch) {
        this.capacityPaused.add(tp);
        kc.pause([{ topic, partitions: [partition] }]);
        break;
      }
      tracker.add(offset);
      resolveOffset(m.offset);
      if (atMostOnce) {
        tracker.finish(offset);
        early.push(rec);
      } else this.accept({ rec, state: 'buffered' });
    }
    if (early.length > 0) {
      // At-most-once: the offsets are committed before any handler sees the records. When the
      // commit did not go through (a rebalance took the partition), they are not handed out.
      await this.requestCommit();
      const t = this.trackers.get(tp);
      if (!t || !this.assigned.has(tp) || t.committed < early[early.length - 1]!.offset + 1) return;
      for (const rec of early) this.accept({ rec, state: 'buffered' });
    }
  }

  private pauseUntil(tp: string, due: number): void {
    const [topic, p] = tp.split('\u0000');
    const tpObj = { topic: topic!, partitions: [Number(p)] };
    const old = this.delayPaused.get(tp);
    if (old) clearTimeout(old);
    this.kc!.pause([tpObj]);
    this.delayPaused.set(
      tp,
      setTimeout(() => {
        this.delayPaused.delete(tp);
        if (!this.capacityPaused.has(tp) && !this.closing) this.kc?.resume([tpObj]);
      }, Math.max(0, due - Date.now())),
    );
  }

  private releaseCapacity(): void {
    if (this.closing || this.capacityPaused.size === 0 || this.held >= this.opts.prefetch) return;
    for (const tp of [...this.capacityPaused]) {
      this.capacityPaused.delete(tp);
      if (this.delayPaused.has(tp)) continue;
      const [topic, p] = tp.split('\u0000');
      this.kc?.resume([{ topic: topic!, partitions: [Number(p)] }]);
    }
  }

  /** A fetched record enters the consumer: straight to the subscriber, or buffered for poll. */
  private accept(e: Entry): void {
    if (this.sink) {
      this.sink(this.handOut(e));
      return;
    }
    this.buffered.push(e);
    for (const w of [...this.waiters]) w();
  }

  private handOut(e: Entry): Delivery {
    const rec = e.rec;
    const atMostOnce = this.opts.ackMode === 'at-most-once';
    const settler: DeliverySettler = {
      ack: () => this.settle(e, 'ack'),
      nack: (delayMs, reason) => this.settle(e, 'nack', delayMs, reason),
      reject: (reason) => this.settle(e, 'reject', undefined, reason),
      extend: async (ms) => {
        if (this.closed) throw closedError('kafka consumer');
        if (e.expired) throw this.expiredError(e);
        if (e.state === 'out' && !e.settling) this.arm(e, ms);
      },
      respond: (replyTo, correlationId, m) => this.conn.internal.reply(replyTo, correlationId, m),
    };
    const d = createDelivery(
      {
        id: rec.id,
        body: rec.value,
        key: rec.key,
        headers: rec.headers,
        attempt: rec.attempt,
        destination: this.source.name,
        receipt: rec.originRef,
        timestamp: rec.timestamp,
        replyTo: rec.rawHeaders[HEADERS.replyTo],
        correlationId: rec.rawHeaders[HEADERS.correlationId],
        preAcked: atMostOnce,
      },
      settler,
      this.conn.capabilities,
    );
    e.state = 'out';
    e.delivery = d;
    this.byDelivery.set(d, e);
    this.out.set(entryKey(rec), e);
    if (atMostOnce) this.finish(e);
    else this.arm(e, this.opts.ackTimeoutMs);
    return d;
  }

  private arm(e: Entry, ms: number): void {
    clearTimeout(e.timer);
    e.timer = setTimeout(() => void this.expire(e), ms);
  }

  private expiredError(e: Entry): SwitchboardError {
    return new SwitchboardError('timeout', `kafka: the ack deadline of delivery ${e.rec.id} passed; it was redelivered`, { retryable: false });
  }

  /** Ack timeout: the record counts as nacked and goes to the retry topic (or dead letter). */
  private async expire(e: Entry): Promise<void> {
    if (e.state !== 'out' || e.settling || this.closing) return;
    e.settling = true;
    e.expired = true;
    try {
      await this.retryOrDeadLetter(e.rec, undefined, `ack timeout (${this.opts.ackTimeoutMs} ms) passed`);
      this.finish(e);
    } catch {
      e.expired = false;
      if (e.state === 'out' && !this.closing) this.arm(e, 1000);
    } finally {
      e.settling = false;
    }
  }

  private async settle(e: Entry, kind: 'ack' | 'nack' | 'reject', delayMs?: number, reason?: string): Promise<void> {
    if (e.expired) throw this.expiredError(e);
    if (this.closed) throw closedError('kafka consumer');
    if (e.revoked || e.state !== 'out') return;
    if (e.settling) throw new SwitchboardError('already_settled', `kafka: delivery ${e.rec.id} is being settled`);
    clearTimeout(e.timer);
    e.settling = true;
    try {
      if (kind === 'nack') await this.retryOrDeadLetter(e.rec, delayMs, reason ?? 'nacked');
      else if (kind === 'reject') await this.deadLetter(e.rec, `rejected: ${reason ?? ''}`);
      this.finish(e);
    } catch (err) {
      if (e.state === 'out' && !this.closing) this.arm(e, this.opts.ackTimeoutMs);
      throw classifyError(err);
    } finally {
      e.settling = false;
    }
  }

  private finish(e: Entry): void {
    if (e.state === 'done') return;
    e.state = 'done';
    clearTimeout(e.timer);
    this.out.delete(entryKey(e.rec));
    if (!e.revoked) this.trackers.get(tpKey(e.rec.topic, e.rec.partition))?.finish(e.rec.offset);
    this.releaseCapacity();
    void this.requestCommit();
  }

  private async retryOrDeadLetter(rec: KafkaRecord, delayMs: number | undefined, reason: string): Promise<void> {
    if (this.opts.maxAttempts !== undefined && rec.attempt >= this.opts.maxAttempts) {
      await this.deadLetter(rec, reason);
      return;
    }
    await this.republish(rec, rec.attempt + 1, delayMs && delayMs > 0 ? Date.now() + delayMs : undefined);
  }

  private normalized(rec: KafkaRecord, headers = rec.headers): NormalizedMessage {
    return { id: rec.id, body: rec.value, key: rec.key, headers, delayMs: undefined };
  }

  /** Appends the record to this group's retry topic with its attempt and not-before. */
  private async republish(rec: KafkaRecord, attempt: number, notBefore: number | undefined): Promise<void> {
    const extra: Record<string, string> = {
      [HEADERS.attempt]: String(attempt),
      [KAFKA_HEADERS.originTopic]: rec.originTopic,
      [KAFKA_HEADERS.originRef]: rec.originRef,
    };
    if (notBefore !== undefined) extra[HEADERS.notBefore] = String(notBefore);
    const replyTo = rec.rawHeaders[HEADERS.replyTo];
    const corr = rec.rawHeaders[HEADERS.correlationId];
    if (replyTo) extra[HEADERS.replyTo] = replyTo;
    if (corr) extra[HEADERS.correlationId] = corr;
    const prepared = await this.conn.prepare(this.retry, [this.normalized(rec)], () => extra);
    await this.conn.sendPrepared(this.retry, prepared);
  }

  private async deadLetter(rec: KafkaRecord, reason: string): Promise<void> {
    const dlq = this.opts.deadLetter.name;
    const headers = {
      ...rec.headers,
      [HEADERS.deadLetterReason]: reason,
      [HEADERS.deadLetterAttempts]: String(rec.attempt),
      [HEADERS.deadLetterSource]: `${this.source.kind}:${this.source.name}`,
      [HEADERS.deadLetterSourceRef]: rec.originRef,
    };
    const prepared = await this.conn.prepare(dlq, [this.normalized(rec, headers)]);
    await this.conn.sendPrepared(dlq, prepared);
  }

  /** Commits every partition's contiguous done prefix; concurrent requests share one round. */
  private requestCommit(): Promise<void> {
    this.commitWanted = true;
    this.committing ??= (async () => {
      try {
        while (this.commitWanted) {
          this.commitWanted = false;
          await this.commitOnce();
        }
      } finally {
        this.committing = undefined;
      }
    })();
    return this.committing;
  }

  private async commitOnce(): Promise<void> {
    const kc = this.kc;
    if (!kc || this.closed || !this.kRunning) return; // stays dirty; committed once running
    const list: { topic: string; partition: number; offset: string; tracker: PartitionTracker; pos: number }[] = [];
    for (const tp of this.assigned) {
      const t = this.trackers.get(tp);
      if (!t || !t.dirty) continue;
      const [topic, p] = tp.split('\u0000');
      list.push({ topic: topic!, partition: Number(p), offset: String(t.position()), tracker: t, pos: t.position() });
    }
    if (list.length === 0) return;
    try {
      await kc.commitOffsets(list.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
      for (const x of list) x.tracker.committed = Math.max(x.tracker.committed, x.pos);
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (type && REBALANCE_TYPES.has(type)) return; // committed again after the rejoin
      // Anything else: keep the partitions dirty; the next ack or close retries.
    }
  }

  startPush(deliver: (d: Delivery) => void, fail: (err: unknown) => void): { stop(): Promise<void> } {
    this.sink = deliver;
    this.failSink = fail;
    while (this.buffered.length && this.sink === deliver) deliver(this.handOut(this.buffered.shift()!));
    return {
      stop: async () => {
        if (this.sink === deliver) {
          this.sink = undefined;
          this.failSink = undefined;
        }
      },
    };
  }

  async poll(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]> {
    if (this.closing) throw closedError('kafka consumer');
    if (this.buffered.length === 0 && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        this.waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    if (signal?.aborted) throw abortedError(signal);
    if (this.closing) throw closedError('kafka consumer');
    return this.buffered.splice(0, max).map((e) => this.handOut(e));
  }

  async release(d: Delivery): Promise<void> {
    const e = this.byDelivery.get(d);
    if (!e || e.state !== 'out' || e.expired || e.revoked || e.settling) return;
    clearTimeout(e.timer);
    this.out.delete(entryKey(e.rec));
    e.state = 'buffered';
    e.delivery = undefined;
    const tp = tpKey(e.rec.topic, e.rec.partition);
    let idx = -1;
    for (let i = 0; i < this.buffered.length; i++) {
      const r = this.buffered[i]!.rec;
      if (tpKey(r.topic, r.partition) !== tp) continue;
      if (r.offset < e.rec.offset) idx = i + 1;
      else {
        if (idx < 0) idx = i;
        break;
      }
    }
    this.buffered.splice(idx < 0 ? 0 : idx, 0, e);
    if (this.sink) {
      const s = this.sink;
      while (this.buffered.length && this.sink === s) s(this.handOut(this.buffered.shift()!));
    } else for (const w of [...this.waiters]) w();
  }

  /**
   * Graceful close: no more intake; records that are still open and sit before an acked record of
   * their partition are re-published to the retry topic (so the commit may pass them without loss);
   * the acked prefix is committed; the member leaves the group. Open records at a partition's tail
   * stay uncommitted and are read again by the next member.
   */
  shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      this.closing = true;
      for (const w of [...this.waiters]) w();
      for (const t of this.delayPaused.values()) clearTimeout(t);
      this.delayPaused.clear();
      const kc = this.kc;
      if (kc) {
        try {
          kc.pause([{ topic: this.source.name }, { topic: this.retry }]);
        } catch {
          // not running yet
        }
        await this.inBatch?.catch(() => undefined);
        // Give deliveries held by the application a moment to be settled while acks still commit.
        for (let waited = 0; this.out.size > 0 && waited < CLOSE_GRACE_MS; waited += 50) await new Promise((r) => setTimeout(r, 50));
        if (this.ready?.done) await this.closeGaps();
        await this.requestCommit().catch(() => undefined);
        if (this.committing) await this.committing.catch(() => undefined);
        await this.commitOnce().catch(() => undefined);
      }
      this.closed = true;
      for (const e of this.out.values()) clearTimeout(e.timer);
      if (kc) await kc.disconnect().catch(() => undefined);
      this.onClosed();
    })();
    return this.shutdownP;
  }

  private async closeGaps(): Promise<void> {
    const open = new Map<string, Entry>();
    for (const e of this.out.values()) open.set(entryKey(e.rec), e);
    for (const e of this.buffered) open.set(entryKey(e.rec), e);
    for (const [tp, t] of this.trackers) {
      if (!this.assigned.has(tp)) continue;
      const [topic, p] = tp.split('\u0000');
      for (const offset of t.openBeforeLastDone()) {
        const e = open.get(`${topic}\u0000${p}\u0000${offset}`);
        if (!e || e.settling) continue;
        try {
          await this.republish(e.rec, e.state === 'out' ? e.rec.attempt + 1 : e.rec.attempt, undefined);
          clearTimeout(e.timer);
          e.state = 'done';
          this.out.delete(entryKey(e.rec));
          t.finish(offset);
        } catch {
          break; // cannot move it: the commit stops before it (acked ones after it may come again)
        }
      }
    }
    this.buffered = [];
  }
}
