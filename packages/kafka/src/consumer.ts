import { abortedError, HEADERS, SwitchboardError, type Destination, type Headers } from '@switchboard/core';
import type { ConsumerDriver, InboundMessage, InboundSink, NormalizedMessage, ResolvedConsumerOptions } from '@switchboard/core/driver';
import type { Consumer as KafkaConsumer, EachBatchPayload } from 'kafkajs';
import { classifyError } from './classify-error';
import { formatPosition, groupId, kafkaTopic, legacyGroupId, parsePosition, parseRef, retryTopic, type KafkaPosition } from './naming';
import { PartitionTracker } from './offset-tracker';
import { consumerConfig } from './options';
import { decodeRecord, KAFKA_HEADERS, type KafkaRecord } from './records';
import { retrying } from './retrying';
import type { KafkaClient } from './session';

/**
 * A fetched record while this member holds it: the handle core gives back on every settle, and
 * the message handed to core (one object per record: the message fields read through to `rec`).
 */
export class KafkaEntry implements InboundMessage<KafkaEntry> {
  /** buffered: fetched, not handed to core; out: handed to core; done: settled (its offset may be committed). */
  state: 'buffered' | 'out' | 'done' = 'buffered';
  /** The partition went to another member, which will deliver the record again: settles do nothing. */
  revoked?: boolean;
  /** A handler held it past the close grace (core released it as seen): a copy re-published at close counts a new attempt. */
  seen?: boolean;
  /** A retry or dead letter is being published for it. */
  settling?: Promise<void>;
  /** The next try of a retry or dead letter whose append failed. */
  again?: NodeJS.Timeout;

  constructor(
    readonly rec: KafkaRecord,
    /** The offsets of the record's partition (this member's, for as long as it holds the partition). */
    readonly tracker: PartitionTracker,
    /** `Delivery.position`, when the source keeps a log to replay. */
    readonly position: string | undefined,
  ) {}

  get handle(): KafkaEntry {
    return this;
  }
  get id(): string {
    return this.rec.id;
  }
  get body(): Uint8Array {
    return this.rec.value;
  }
  get key(): string | undefined {
    return this.rec.key;
  }
  get headers(): Headers {
    return this.rec.headers;
  }
  get attempt(): number {
    return this.rec.attempt;
  }
  get receipt(): string {
    return this.rec.originRef;
  }
  get timestamp(): Date {
    return this.rec.timestamp;
  }
  get replyTo(): string | undefined {
    return this.rec.replyTo;
  }
  get correlationId(): string | undefined {
    return this.rec.correlationId;
  }
}

/** The longest close waits for its last commit (and the re-publishing of gaps) before it leaves the group. */
const CLOSE_COMMIT_MS = 5000;

/** Consecutive self-restarts after crashes kafkajs does not recover from, before the subscription fails. */
const MAX_RESTARTS = 5;

const DEBUG = process.env.SB_KAFKA_DEBUG === '1';
const debug = (...a: unknown[]) => {
  if (DEBUG) process.stderr.write(`[sb-kafka ${new Date().toISOString().slice(11, 23)}] ${a.join(' ')}\n`);
};

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const REBALANCE_TYPES = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'NOT_COORDINATOR', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'COORDINATOR_NOT_AVAILABLE']);

/**
 * Runs a kafkajs admin offset lookup again when it hits kafkajs's metadata race: concurrent lookups
 * on one admin client refresh the shared metadata for their own topics, and one that lands late can
 * drop another's new topic, which then fails inside kafkajs with a TypeError ("Cannot destructure
 * property 'partitions' of 'low.pop(...)'"). Seen with many consumers opening at once. Lookups go
 * one at a time ({@link KafkaClient.offsetLookups}); this is the backstop for other admin calls
 * (topic creation, metadata) that refresh the same metadata meanwhile.
 */
async function raced<T>(lookup: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await lookup();
    } catch (err) {
      if (!(err instanceof TypeError) || i >= 8) throw err;
      debug('offset lookup hit the kafkajs metadata race; again', String(err));
      await new Promise((r) => setTimeout(r, 50 * (i + 1)));
    }
  }
}

/**
 * Joins the Kafka consumer group of `options.group` on `source` and resolves once it is ready: the
 * group is joined, partitions are assigned, and a new group's start positions are resolved and
 * committed, so nothing sent afterwards is missed. Core builds the public Consumer on the result
 * and emulates the ack deadline and `extend`; this driver does what is Kafka's own: per-partition
 * offset tracking and commits, pausing partitions at prefetch and for delays, retries and dead
 * letters as records appended to the group's retry topic and the dead-letter topic.
 */
export async function openKafkaConsumer(client: KafkaClient, source: Destination, options: ResolvedConsumerOptions): Promise<ConsumerDriver<KafkaEntry>> {
  const c = new KafkaConsumerDriver(client, source, options);
  try {
    await c.begin();
  } catch (err) {
    await c.close().catch(() => undefined);
    throw err instanceof SwitchboardError ? err : classifyError(err);
  }
  return c;
}

class KafkaConsumerDriver implements ConsumerDriver<KafkaEntry> {
  private readonly gid: string;
  /** The source's Kafka topic ({@link kafkaTopic}). */
  private readonly topic: string;
  private readonly retryTopic: string;
  private readonly atMostOnce: boolean;
  private kc: KafkaConsumer | undefined;
  private readonly trackers = new Map<string, PartitionTracker>();
  private assigned = new Set<string>();
  private buffered: KafkaEntry[] = [];
  /** Records handed to core and not yet settled. */
  private readonly out = new Set<KafkaEntry>();
  private readonly capacityPaused = new Set<string>();
  private readonly delayPaused = new Map<string, NodeJS.Timeout>();
  private sink: InboundSink<KafkaEntry> | undefined;
  private pushing = false;
  private drainScheduled = false;
  private failure: unknown;
  private initialSeeks: Map<number, number> | undefined;
  private closing = false;
  private closed = false;
  private closeP: Promise<void> | undefined;
  private committing: Promise<void> | undefined;
  private commitWanted = false;
  /** A commit round is scheduled for the end of this event-loop turn (acks of one turn share it). */
  private commitScheduled = false;
  private ready!: { resolve: () => void; reject: (e: unknown) => void; done: boolean };
  private inBatch: Promise<void> | undefined;
  private restarts = 0;
  /** Whether the kafkajs runner is running: it silently drops commits while it is not. */
  private kRunning = false;
  private pendingInitial: (() => void) | undefined;

  constructor(
    private readonly client: KafkaClient,
    private readonly source: Destination,
    private readonly opts: ResolvedConsumerOptions,
  ) {
    this.gid = groupId(source, opts.group);
    this.topic = kafkaTopic(source);
    this.retryTopic = retryTopic(source, opts.group);
    this.atMostOnce = opts.ackMode === 'at-most-once';
  }

  private get held(): number {
    return this.buffered.length + this.out.size;
  }

  /** Joins the group; resolves once ready (see {@link openKafkaConsumer}). */
  async begin(): Promise<void> {
    const signal = this.opts.signal;
    const o = this.client.options;
    await this.checkPosition();
    // The source first: a source Kafka refuses (a "." vs "_" collision) creates no retry topic.
    await this.client.topics.ensure([this.topic]);
    await this.client.topics.ensure([this.retryTopic]);
    this.initialSeeks = await retrying(() => this.resolveStart());
    debug(this.gid, 'start seeks', JSON.stringify([...this.initialSeeks]));
    if (this.initialSeeks.size === 0) this.initialSeeks = undefined;
    const readyP = new Promise<void>((resolve, reject) => {
      this.ready = { resolve, reject, done: false };
    });
    readyP.catch(() => undefined);
    await this.run();
    const limit = Math.max(30_000, o.sessionTimeoutMs + o.rebalanceTimeoutMs);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        readyP,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new SwitchboardError('timeout', `kafka: group ${this.gid} did not assign partitions within ${limit} ms`)), limit);
        }),
        new Promise<never>((_, reject) => {
          if (!signal) return;
          onAbort = () => reject(abortedError(signal));
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Creates, connects and runs the kafkajs consumer (again after a crash kafkajs does not restart). */
  private async run(): Promise<void> {
    const kc = this.client.consumerKafka.consumer(consumerConfig(this.client.options, this.gid));
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
    kc.on(kc.events.CRASH, (e) => {
      debug(this.gid, 'crash', String(e.payload.error), 'restart', e.payload.restart);
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
        this.fail(err);
        return;
      }
      const timer = setTimeout(() => {
        if (this.closing || this.kc !== kc) return;
        void kc
          .disconnect()
          .catch(() => undefined)
          .then(() => (this.closing ? undefined : this.run()))
          .catch((e2: unknown) => this.fail(classifyError(e2)));
      }, 1000 * this.restarts);
      timer.unref();
    });
    await kc.connect();
    const fromBeginning = this.source.kind === 'queue' || this.opts.from !== 'latest';
    await kc.subscribe({ topics: [this.topic], fromBeginning });
    await kc.subscribe({ topics: [this.retryTopic], fromBeginning: true });
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

  private fail(err: unknown): void {
    this.failure = err;
    this.sink?.fail(err);
  }

  /** The parsed `from: { position }`, if given; `invalid_argument` when it is not one this adapter gives out. */
  private startPosition(): KafkaPosition | undefined {
    const from = this.opts.from;
    if (typeof from !== 'object' || !('position' in from)) return undefined;
    const pos = parsePosition(from.position);
    if (!pos) throw new SwitchboardError('invalid_argument', `kafka: from.position "${from.position}" is not "<partition>:<offset>@<timestamp ms>" (a Delivery.position)`);
    return pos;
  }

  /** Rejects a bad `from: { position }` before any topic or group is created. */
  private async checkPosition(): Promise<void> {
    const pos = this.startPosition();
    if (!pos || this.source.kind === 'queue') return;
    const topic = this.topic;
    // Every topic's metadata: asking for one that does not exist may create it.
    const partitions = this.client.topics.partitionsOf(topic) ?? (await retrying(() => this.client.admin.fetchTopicMetadata())).topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    if (pos.partition >= partitions) throw new SwitchboardError('invalid_argument', `kafka: from.position names partition ${pos.partition}, but topic ${topic} has ${partitions === 0 ? 'no' : `only ${partitions}`} partition(s)`);
  }

  /** Start offsets for the source partitions this group has no committed offset for. */
  private async resolveStart(): Promise<Map<number, number>> {
    const admin = this.client.admin;
    const topic = this.topic;
    const seeks = new Map<number, number>();
    const committed = await admin.fetchOffsets({ groupId: this.gid, topics: [topic] });
    let open = (committed.find((t) => t.topic === topic)?.partitions ?? []).filter((p) => Number(p.offset) < 0).map((p) => p.partition);
    if (open.length === 0) return seeks;
    const lookups = this.client.offsetLookups;
    const marks = await raced(() => lookups.run(() => admin.fetchTopicOffsets(topic)));
    const lowHigh = new Map(marks.map((m) => [m.partition, { low: Number(m.low), high: Number(m.high) }]));
    // A group whose id changed (a "." in its name) goes on from where its old group id stopped.
    const legacy = legacyGroupId(this.source, this.opts.group);
    if (legacy) {
      const old = await admin.fetchOffsets({ groupId: legacy, topics: [topic] });
      for (const p of old.find((t) => t.topic === topic)?.partitions ?? []) {
        const off = Number(p.offset);
        const lh = lowHigh.get(p.partition);
        if (off < 0 || !open.includes(p.partition) || !lh) continue;
        seeks.set(p.partition, Math.min(Math.max(off, lh.low), lh.high));
      }
      if (seeks.size > 0) debug(this.gid, 'offsets of the old group id', legacy, JSON.stringify([...seeks]));
      open = open.filter((p) => !seeks.has(p));
      if (open.length === 0) return seeks;
    }
    const from = this.source.kind === 'queue' ? 'earliest' : this.opts.from;
    // { position }: its partition from its offset, the others from its timestamp.
    const pos = this.source.kind === 'queue' ? undefined : this.startPosition();
    let ref: { partition: number | undefined; offset: number } | undefined = pos;
    let byTime: Map<number, number> | undefined;
    const ts = pos ? pos.timestamp : typeof from === 'object' && 'timestamp' in from ? from.timestamp : undefined;
    if (ts !== undefined) {
      const r = await raced(() => lookups.run(() => admin.fetchTopicOffsetsByTimestamp(topic, ts instanceof Date ? ts.getTime() : ts)));
      byTime = new Map(r.map((x) => [x.partition, Number(x.offset)]));
    }
    if (typeof from === 'object' && 'offset' in from) {
      ref = parseRef(from.offset);
      if (!ref) throw new SwitchboardError('invalid_argument', `kafka: from.offset "${String(from.offset)}" is neither an offset nor "<partition>:<offset>"`);
    }
    for (const p of open) {
      const lh = lowHigh.get(p) ?? { low: 0, high: 0 };
      let v: number;
      if (from === 'earliest') v = lh.low;
      else if (from === 'latest') v = lh.high;
      else if (ref && (ref.partition === undefined || ref.partition === p)) v = ref.offset;
      else if (byTime) v = byTime.get(p) ?? lh.high;
      else if (ref) v = lh.low;
      else v = lh.high;
      seeks.set(p, Math.min(Math.max(v < 0 ? lh.high : v, lh.low), lh.high));
    }
    return seeks;
  }

  private onJoin(assignment: Record<string, number[]>): void {
    debug(this.gid, 'join', JSON.stringify(assignment), 'seeks', JSON.stringify([...(this.initialSeeks ?? [])]));
    const now = new Set<string>();
    for (const [topic, parts] of Object.entries(assignment)) for (const p of parts) now.add(tpKey(topic, p));
    for (const tp of this.assigned) if (!now.has(tp)) this.dropPartition(tp);
    this.assigned = now;
    const kc = this.kc!;
    // Re-apply pauses: a rejoin builds fresh subscription state.
    for (const tp of [...this.capacityPaused, ...this.delayPaused.keys()]) {
      if (!now.has(tp)) continue;
      const [topic, p] = tp.split('\u0000');
      this.pauseKafka([{ topic: topic!, partitions: [Number(p)] }]);
    }
    const seeks = this.initialSeeks;
    const markReady = () => {
      if (this.ready.done) return;
      this.ready.done = true;
      this.ready.resolve();
    };
    if (seeks) {
      const commits: { topic: string; partition: number; offset: string }[] = [];
      for (const p of assignment[this.topic] ?? []) {
        const off = seeks.get(p);
        if (off === undefined) continue;
        kc.seek({ topic: this.topic, partition: p, offset: String(off) });
        commits.push({ topic: this.topic, partition: p, offset: String(off) });
      }
      const finish = () => {
        debug(this.gid, 'initial commit done', JSON.stringify(commits));
        this.initialSeeks = undefined;
        markReady();
      };
      if (commits.length === 0) finish();
      else {
        // kafkajs drops commits silently while its runner is not running yet (during the first
        // join of a run), so the commit waits for the first fetch of this run when needed.
        this.pendingInitial = () => {
          kc.commitOffsets(commits).then(finish, (e: unknown) => {
            // A rebalance overtook the commit: the next join applies the seeks again.
            debug(this.gid, 'initial commit failed', String(e));
          });
        };
        if (this.kRunning) this.flushInitial();
      }
    } else markReady();
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
    for (const e of this.out) {
      if (tpKey(e.rec.topic, e.rec.partition) !== tp) continue;
      e.revoked = true;
      this.out.delete(e);
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

  /**
   * Takes a fetched batch in, whole: records become entries, handed to core up to `prefetch` and
   * buffered beyond (see the end); a member that already holds `prefetch` pauses the partition. kafkajs learns how far the batch was taken with one
   * `resolveOffset` at the end (each call parses the offset into a Long), not one per record.
   */
  private async eachBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const tp = tpKey(topic, partition);
    debug(this.gid, 'batch', topic, partition, batch.firstOffset(), batch.lastOffset(), batch.messages.length, 'paused', this.isPaused(tp), 'held', this.held);
    const tracker = this.tracker(tp);
    const early: KafkaEntry[] = [];
    const filter = this.opts.filter ? Object.entries(this.opts.filter) : undefined;
    if (this.buffered.length >= this.opts.prefetch) {
      // Full: the batch is fetched again once fewer than prefetch records wait in the buffer.
      this.pauseForCapacity(tp);
      return;
    }
    let resolved: string | undefined;
    try {
      for (const m of batch.messages) {
        if (this.closing || !isRunning() || isStale() || this.isPaused(tp) || !this.assigned.has(tp)) break;
        const offset = Number(m.offset);
        if (tracker.seen(offset)) {
          resolved = m.offset;
          continue;
        }
        const rec = decodeRecord(topic, partition, m);
        if (rec.notBefore !== undefined && rec.notBefore > Date.now()) {
          if (topic === this.retryTopic) {
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
          resolved = m.offset;
          this.scheduleCommit();
          continue;
        }
        if (filter && !filter.every(([k, v]) => rec.headers[k] === v)) {
          tracker.add(offset, true);
          resolved = m.offset;
          this.scheduleCommit();
          continue;
        }
        tracker.add(offset);
        resolved = m.offset;
        const e = new KafkaEntry(rec, tracker, this.positionOf(rec));
        if (this.atMostOnce) {
          tracker.finish(offset);
          early.push(e);
        } else this.accept(e);
      }
    } finally {
      if (resolved !== undefined) resolveOffset(resolved);
    }
    // The whole batch was taken (kafkajs decoded it already; dropping its tail would fetch and
    // decode it again): core gets at most prefetch of it at a time, the rest waits in the buffer,
    // and the partition pauses while prefetch or more wait there. It resumes below that, so the
    // next fetch is on its way while core still has records to work on.
    if (this.buffered.length >= this.opts.prefetch) this.pauseForCapacity(tp);
    if (early.length > 0) {
      // At-most-once: the offsets are committed before core sees the records. When the commit did
      // not go through (a rebalance took the partition), they are not handed out.
      await this.requestCommit();
      const t = this.trackers.get(tp);
      if (!t || !this.assigned.has(tp) || t.committed < early[early.length - 1]!.rec.offset + 1) return;
      for (const e of early) this.accept(e);
    }
  }

  /**
   * kafkajs's pause and resume throw while its consumer has no group: before its first `run`, and
   * from its `stop` (a crash it restarts from, or one the adapter restarts) until `run` starts again
   * (seen in CI as an uncaught exception from a drain).
   * Nothing is fetched then, and the next join applies the pauses this member still holds
   * (`capacityPaused`, `delayPaused`), so skipping the call loses nothing.
   */
  private pauseKafka(tps: { topic: string; partitions?: number[] }[]): void {
    try {
      this.kc?.pause(tps);
    } catch (err) {
      debug(this.gid, 'pause skipped', String(err));
    }
  }

  /** See {@link pauseKafka}. */
  private resumeKafka(tps: { topic: string; partitions: number[] }[]): void {
    try {
      this.kc?.resume(tps);
    } catch (err) {
      debug(this.gid, 'resume skipped', String(err));
    }
  }

  private pauseForCapacity(tp: string): void {
    if (this.capacityPaused.has(tp)) return;
    this.capacityPaused.add(tp);
    const [topic, p] = tp.split('\u0000');
    this.pauseKafka([{ topic: topic!, partitions: [Number(p)] }]);
  }

  private pauseUntil(tp: string, due: number): void {
    const [topic, p] = tp.split('\u0000');
    const tpObj = { topic: topic!, partitions: [Number(p)] };
    const old = this.delayPaused.get(tp);
    if (old) clearTimeout(old);
    this.pauseKafka([tpObj]);
    this.delayPaused.set(
      tp,
      setTimeout(
        () => {
          this.delayPaused.delete(tp);
          if (!this.capacityPaused.has(tp) && !this.closing) this.resumeKafka([tpObj]);
        },
        Math.max(0, due - Date.now()),
      ),
    );
  }

  private releaseCapacity(): void {
    if (this.closing || this.capacityPaused.size === 0 || this.buffered.length >= this.opts.prefetch) return;
    for (const tp of [...this.capacityPaused]) {
      this.capacityPaused.delete(tp);
      if (this.delayPaused.has(tp)) continue;
      const [topic, p] = tp.split('\u0000');
      this.resumeKafka([{ topic: topic!, partitions: [Number(p)] }]);
    }
  }

  /** A fetched record enters this member: straight to core while it takes them, else buffered. */
  private accept(e: KafkaEntry): void {
    this.buffered.push(e);
    this.drain();
  }

  /**
   * Hands buffered records to core while it takes them and fewer than `prefetch` are out unsettled
   * (as many as were buffered: a record core gives back waits).
   */
  private drain(): void {
    const limit = this.atMostOnce ? Infinity : this.opts.prefetch;
    for (let n = this.buffered.length; n > 0 && this.pushing && this.buffered.length > 0 && this.out.size < limit; n--) this.handOut(this.buffered.shift()!);
    // At-most-once records never come back through an ack: the buffer emptying is what frees room.
    if (this.capacityPaused.size > 0) this.releaseCapacity();
  }

  /** Drains at the end of this turn: not from inside a settle core is running. */
  private scheduleDrain(): void {
    if (this.drainScheduled || !this.pushing) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private handOut(e: KafkaEntry): void {
    // At-most-once records were committed before they got here: they no longer count as held.
    e.state = this.atMostOnce ? 'done' : 'out';
    if (!this.atMostOnce) this.out.add(e);
    this.sink!.deliver(e);
  }

  /** `Delivery.position`: where the record (a retry's origin record) sits in the source topic; none on a queue, which is not replayed. */
  private positionOf(rec: KafkaRecord): string | undefined {
    if (this.source.kind === 'queue' || rec.originTopic !== this.topic || rec.originTimestamp === undefined) return undefined;
    if (rec.topic === this.topic) return formatPosition(rec.partition, rec.offset, rec.originTimestamp);
    const ref = parseRef(rec.originRef);
    return ref?.partition === undefined ? undefined : formatPosition(ref.partition, ref.offset, rec.originTimestamp);
  }

  start(sink: InboundSink<KafkaEntry>): void {
    this.sink = sink;
    this.pushing = true;
    if (this.failure !== undefined) sink.fail(this.failure);
    this.drain();
  }

  async stop(): Promise<void> {
    this.pushing = false;
  }

  async ack(e: KafkaEntry): Promise<void> {
    this.finish(e);
  }

  /** Appends the record to the group's retry topic with attempt + 1 (and a not-before), then commits past it. */
  retry(e: KafkaEntry, delayMs: number): Promise<void> {
    return this.settle(e, () => this.republish(e.rec, e.rec.attempt + 1, delayMs > 0 ? Date.now() + delayMs : undefined));
  }

  /** Appends a copy with core's dead-letter headers to `to`, then commits past the record. */
  deadLetter(e: KafkaEntry, to: Destination, headers: Headers): Promise<void> {
    return this.settle(e, async () => {
      await Promise.all(this.client.append(kafkaTopic(to), [this.normalized(e.rec, headers)]));
    });
  }

  /** Puts a record back in front of the buffer; it is handed out again first. */
  async release(e: KafkaEntry, how: { readonly seen: boolean }): Promise<void> {
    if (e.state !== 'out' || e.revoked || e.settling) return;
    if (how.seen) e.seen = true;
    this.out.delete(e);
    e.state = 'buffered';
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
    // Not at once: core may be releasing because nothing takes deliveries right now.
    this.scheduleDrain();
  }

  private async settle(e: KafkaEntry, publish: () => Promise<void>): Promise<void> {
    clearTimeout(e.again);
    if (e.settling) await e.settling.catch(() => undefined);
    if (e.revoked || e.state !== 'out') return;
    const p = publish();
    e.settling = p;
    try {
      await p;
    } catch (err) {
      // The record stays open, so the commit cannot pass it. Core does not come back after an
      // expired ack deadline, so the append is tried again shortly (a later settle replaces it).
      if (!this.closing) e.again = setTimeout(() => void this.settle(e, publish).catch(() => undefined), 1000);
      throw err;
    } finally {
      e.settling = undefined;
    }
    this.finish(e);
  }

  private finish(e: KafkaEntry): void {
    if (e.state !== 'out') return;
    e.state = 'done';
    this.out.delete(e);
    if (!e.revoked) e.tracker.finish(e.rec.offset);
    if (this.buffered.length > 0) this.scheduleDrain();
    this.releaseCapacity();
    this.scheduleCommit();
  }

  /**
   * Asks for a commit round at the end of this event-loop turn: the acks of one turn (a whole
   * fetched batch, typically) cost one check of the partitions, not one each.
   */
  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => {
      this.commitScheduled = false;
      void this.requestCommit();
    });
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
    if (rec.originTimestamp !== undefined) extra[KAFKA_HEADERS.originTimestamp] = String(rec.originTimestamp);
    if (notBefore !== undefined) extra[HEADERS.notBefore] = String(notBefore);
    if (rec.replyTo) extra[HEADERS.replyTo] = rec.replyTo;
    if (rec.correlationId) extra[HEADERS.correlationId] = rec.correlationId;
    await Promise.all(this.client.append(this.retryTopic, [this.normalized(rec)], () => extra));
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

  /**
   * Leaves the group. Core has stopped intake and given back every record it held. Records still
   * open that sit before a done record of their partition are re-published to the retry topic (so
   * the commit may pass them without loss), with attempt + 1 when a handler held them past the close grace; the done prefix is
   * committed. Open records at a
   * partition's tail stay uncommitted and are read again by the next member.
   */
  close(): Promise<void> {
    this.closeP ??= (async () => {
      this.closing = true;
      this.pushing = false;
      for (const t of this.delayPaused.values()) clearTimeout(t);
      this.delayPaused.clear();
      const kc = this.kc;
      if (kc) {
        this.pauseKafka([{ topic: this.topic }, { topic: this.retryTopic }]);
        await this.inBatch?.catch(() => undefined);
        for (const e of this.out.values()) clearTimeout(e.again);
        await Promise.allSettled([...this.out.values()].map((e) => e.settling));
        // kafkajs retries a commit for as long as the broker is unreachable (see CONSUMER_RETRY):
        // close gives the last commit a bounded time, then leaves (what is not committed is read again).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          (async () => {
            if (this.ready?.done) await this.closeGaps();
            await this.requestCommit().catch(() => undefined);
            await this.committing?.catch(() => undefined);
            await this.commitOnce().catch(() => undefined);
          })(),
          new Promise<void>((r) => {
            timer = setTimeout(r, CLOSE_COMMIT_MS);
          }),
        ]);
        clearTimeout(timer);
      }
      this.closed = true;
      if (kc) await kc.disconnect().catch(() => undefined);
    })();
    return this.closeP;
  }

  private async closeGaps(): Promise<void> {
    const entryKey = (r: KafkaRecord) => `${r.topic}\u0000${r.partition}\u0000${r.offset}`;
    const open = new Map<string, KafkaEntry>();
    for (const e of [...this.out, ...this.buffered]) open.set(entryKey(e.rec), e);
    for (const [tp, t] of this.trackers) {
      if (!this.assigned.has(tp)) continue;
      const [topic, p] = tp.split('\u0000');
      for (const offset of t.openBeforeLastDone()) {
        const e = open.get(`${topic}\u0000${p}\u0000${offset}`);
        if (!e || e.settling) continue;
        try {
          await this.republish(e.rec, e.seen ? e.rec.attempt + 1 : e.rec.attempt, undefined);
          e.state = 'done';
          this.out.delete(e);
          t.finish(offset);
        } catch {
          break; // cannot move it: the commit stops before it (acked ones after it may come again)
        }
      }
    }
    this.buffered = [];
  }
}
