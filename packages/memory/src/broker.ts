import { randomUUID } from 'node:crypto';
import { SwitchboardError, type Destination, type Headers, type Reply, type StartPosition } from '@switchboard/core';
import { createReply, Fifo, type NormalizedMessage, type ResolvedConsumerOptions } from '@switchboard/core/driver';
import { Ledger } from './ledger';

/** One stored message. Offsets are dense per destination, starting at 0. */
export interface MemoryRecord {
  readonly offset: number;
  readonly id: string;
  readonly body: Uint8Array;
  readonly key: string | undefined;
  readonly headers: Headers;
  readonly timestamp: number;
  /** Not delivered before this time (delayed send). */
  readonly availableAt: number;
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
}

export interface MemoryBrokerOptions {
  /** Largest accepted message (body + key + headers), default 1 MiB. */
  maxMessageBytes?: number;
  /**
   * Records kept per destination, default 1,000,000. A topic drops its oldest records past it (they
   * stay for replay until then). A queue never drops a message no one consumed: a send that would
   * take it past this many undone messages is refused whole with `rejected`, nothing stored.
   */
  retentionMessages?: number;
  /** Records older than this are dropped, default unlimited. */
  retentionMs?: number;
  /** Sends of a message id seen within this window are confirmed but not stored again, default 120000 ms (0: no dedup). */
  dedupWindowMs?: number;
  /**
   * At most this many ids per destination are remembered for dedup, default 100,000: past it the
   * oldest leave the window early, so memory stays bounded at any send rate.
   */
  dedupWindowSize?: number;
}

/** What a consumer hands the broker to receive deliveries. */
export interface MemberSink {
  /** Called per delivery while `pushing` is true and the member holds fewer than prefetch. */
  deliver(record: MemoryRecord, attempt: number, token: number): void;
}

/** A consumer's place in a group. */
export class Member {
  pushing = false;
  /** Unsettled deliveries held. */
  held = 0;
  constructor(
    readonly id: number,
    readonly group: Group,
    readonly options: ResolvedConsumerOptions,
    readonly sink: MemberSink,
  ) {}
}

const QUEUE_GROUP = '__queue';
/**
 * Flow control: past this many records not yet handed to a group that has a consumer with room, a
 * confirmed send resolves only after a turn of the event loop (see {@link Log.consumersWaiting}).
 */
export const FLOW_BACKLOG = 10_000;
const MAX_BACKLOG_SCAN = 10_000;

let tokens = 0;

/** A subscription group: a cursor over the log plus redelivery state. */
export class Group {
  cursor: number;
  /** Attempts, holders and done marks per offset from the committed one up. */
  private readonly ledger: Ledger<Member>;
  /** Offsets waiting for (re)delivery, ascending, with the time each becomes available. */
  readonly backlog: number[] = [];
  readonly availableAt = new Map<number, number>();
  readonly keyHolds = new Map<string, number>();
  readonly members: Member[] = [];
  private rr = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private scheduled = false;
  /** True while `pump` hands out records. */
  private pumping = false;
  /** Records given back while `pump` ran, with their due times: they join the backlog when it ends. */
  private readonly givenBack: Array<[offset: number, at: number]> = [];
  filter: Headers | undefined;

  constructor(
    readonly name: string,
    readonly log: Log,
    start: number,
  ) {
    this.cursor = start;
    this.ledger = new Ledger(start);
  }

  /** Every offset below this is done (acked, dead-lettered, or filtered out). */
  get committed(): number {
    return this.ledger.floor;
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // A macrotask, not a microtask: a handler that fails at once must not starve timers and I/O.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** A member that would take a delivery now. */
  hasRoom(): boolean {
    return this.nextMember() !== undefined;
  }

  private capacity(m: Member): number {
    return m.pushing ? Math.max(0, m.options.prefetch - m.held) : 0;
  }

  /** The next member in turn with room; the turn moves on only when it is given a message (dispatch). */
  private nextMember(): Member | undefined {
    const n = this.members.length;
    for (let i = 0; i < n; i++) {
      const m = this.members[(this.rr + i) % n]!;
      if (this.capacity(m) > 0) return m;
    }
    return undefined;
  }

  /** Hands out everything that may go now, then arms a timer for what becomes due later. */
  pump(): void {
    this.pumping = true;
    try {
      this.pumpNow();
    } finally {
      this.pumping = false;
      // What a handler gave back while this pump ran goes out on the next turn, not in this one.
      const back = this.givenBack.splice(0);
      for (const [offset, at] of back) this.enqueue(offset, at);
    }
  }

  private pumpNow(): void {
    const now = Date.now();
    // Keys that may not go now; made only when a key is held or met (most traffic has none).
    let blocked = this.keyHolds.size > 0 ? new Set<string>(this.keyHolds.keys()) : undefined;
    let member = this.nextMember();

    for (let i = 0; member && i < this.backlog.length; ) {
      const offset = this.backlog[i]!;
      const rec = this.log.get(offset);
      if (!rec) {
        this.backlog.splice(i, 1);
        this.availableAt.delete(offset);
        continue;
      }
      const due = this.availableAt.get(offset) ?? 0;
      if (rec.key !== undefined && blocked?.has(rec.key)) { i++; continue; }
      if (due > now) {
        if (rec.key !== undefined) (blocked ??= new Set()).add(rec.key);
        i++;
        continue;
      }
      this.backlog.splice(i, 1);
      this.availableAt.delete(offset);
      this.dispatch(rec, member);
      if (rec.key !== undefined) (blocked ??= new Set()).add(rec.key);
      member = this.nextMember();
    }

    while (member && this.cursor < this.log.end && this.backlog.length < MAX_BACKLOG_SCAN) {
      const rec = this.log.get(this.cursor);
      this.cursor++;
      if (!rec) continue;
      if (this.filter && !matches(rec.headers, this.filter)) {
        this.markDone(rec.offset);
        continue;
      }
      if ((rec.key !== undefined && blocked?.has(rec.key)) || rec.availableAt > now) {
        this.enqueue(rec.offset, rec.availableAt);
        if (rec.key !== undefined) (blocked ??= new Set()).add(rec.key);
        continue;
      }
      this.dispatch(rec, member);
      if (rec.key !== undefined) (blocked ??= new Set()).add(rec.key);
      member = this.nextMember();
    }
    this.arm(now);
  }

  private dispatch(rec: MemoryRecord, member: Member): void {
    this.rr = (this.members.indexOf(member) + 1) % this.members.length;
    const attempt = this.ledger.attemptsOf(rec.offset) + 1;
    this.ledger.setAttempts(rec.offset, attempt);
    const token = ++tokens;
    if (member.options.ackMode === 'at-most-once') {
      this.markDone(rec.offset);
    } else {
      this.ledger.hold(rec.offset, member, token);
      member.held++;
      if (rec.key !== undefined) this.keyHolds.set(rec.key, (this.keyHolds.get(rec.key) ?? 0) + 1);
    }
    member.sink.deliver(rec, attempt, token);
  }

  /** Ends the delivery of `offset` if `token` still owns it; returns the member that held it. */
  private take(offset: number, token: number): Member | undefined {
    const member = this.ledger.holderOf(offset, token);
    if (!member) return undefined;
    this.ledger.unhold(offset);
    member.held--;
    const rec = this.log.get(offset);
    if (rec?.key !== undefined) {
      const n = (this.keyHolds.get(rec.key) ?? 1) - 1;
      if (n <= 0) this.keyHolds.delete(rec.key);
      else this.keyHolds.set(rec.key, n);
    }
    this.schedule();
    return member;
  }

  ack(offset: number, token: number): void {
    if (this.take(offset, token)) this.markDone(offset);
  }

  /** Delivers the message again (attempt + 1), no sooner than `delayMs` from now. */
  retry(offset: number, token: number, delayMs: number): void {
    if (!this.take(offset, token)) return;
    this.giveBack(offset, delayMs > 0 ? Date.now() + delayMs : 0);
  }

  /** Stores a copy with `headers` on `to` and settles the original. */
  deadLetter(offset: number, token: number, to: Destination, headers: Headers): void {
    if (!this.take(offset, token)) return;
    const rec = this.log.get(offset);
    if (rec) this.log.broker.append(to, [{ id: rec.id, body: rec.body, key: rec.key, headers, delayMs: undefined }], { dedup: false });
    this.markDone(offset);
  }

  /** Gives back a delivery no handler saw: it does not count as an attempt. */
  release(offset: number, token: number): void {
    if (!this.take(offset, token)) return;
    this.ledger.setAttempts(offset, Math.max(0, this.ledger.attemptsOf(offset) - 1));
    this.giveBack(offset, 0);
  }

  /**
   * Puts a delivery that was handed out back in the backlog. A handler can settle synchronously
   * inside `pump` (a handler that throws at once, nacked at once): then the record waits for the
   * next pump, a macrotask later, so one pump never hands out the same record twice and a handler
   * that always fails cannot keep the event loop from timers and I/O.
   */
  private giveBack(offset: number, at: number): void {
    if (this.pumping) this.givenBack.push([offset, at]);
    else this.enqueue(offset, at);
  }

  private enqueue(offset: number, at: number): void {
    this.availableAt.set(offset, at);
    // Keep ascending order; redeliveries are usually near the front, appends near the back.
    let lo = 0;
    let hi = this.backlog.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.backlog[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    if (this.backlog[lo] !== offset) this.backlog.splice(lo, 0, offset);
    this.schedule();
  }

  markDone(offset: number): void {
    this.ledger.markDone(offset);
    this.log.maybeTrim();
  }

  /** Arms one timer for the next delayed message that becomes due. */
  private arm(now: number): void {
    let next = Infinity;
    for (const at of this.availableAt.values()) if (at > now && at < next) next = at;
    if (this.cursor < this.log.end && this.members.some((m) => this.capacity(m) > 0)) {
      const rec = this.log.get(this.cursor);
      if (rec && rec.availableAt > now && rec.availableAt < next) next = rec.availableAt;
    }
    if (next === Infinity) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, next - now) + 1);
    this.timer.unref();
  }

  join(member: Member): void {
    this.members.push(member);
    if (this.filter === undefined && member.options.filter) this.filter = member.options.filter;
    this.schedule();
  }

  /** The member leaves: its unsettled deliveries go back to the group (they were delivered, so attempts stand). */
  leave(member: Member): void {
    const i = this.members.indexOf(member);
    if (i >= 0) this.members.splice(i, 1);
    for (const [offset, token] of this.ledger.heldBy(member)) {
      if (this.take(offset, token)) this.giveBack(offset, 0);
    }
    this.schedule();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The offset of a memory position (`Delivery.position`, the record's offset in decimal). */
function positionOffset(position: string): number {
  const n = Number(position);
  if (!/^\d+$/.test(position) || !Number.isSafeInteger(n)) throw new SwitchboardError('invalid_argument', `memory: position "${position}" is not one this backend gave out (a record offset)`);
  return n;
}

function matches(headers: Headers, filter: Headers): boolean {
  for (const [k, v] of Object.entries(filter)) if (headers[k] !== v) return false;
  return true;
}

/** How {@link Log.append} stores messages. */
export interface AppendOptions {
  /** Skip ids the dedup window holds (sends do; a dead-letter copy does not). */
  dedup: boolean;
  /** Throw `rejected`, storing nothing, when a queue has no room under `retentionMessages` (sends do; a dead-letter copy does not). */
  refuseWhenFull?: boolean;
  replyTo?: string;
  correlationId?: string;
}

/** A message id in the dedup window: until when, and the offset its first copy got. */
interface DedupEntry {
  readonly id: string;
  readonly until: number;
  readonly offset: number;
}

/** The retained records of one destination, and its groups. */
export class Log {
  /** Retained records from index `head` on; those before it were trimmed (undefined) and are cut off in bulk. */
  private records: (MemoryRecord | undefined)[] = [];
  /** Offset of records[0]. */
  private base = 0;
  /** Index in `records` of the first retained record. */
  private head = 0;
  /** Records moved by cutting `records` so far. */
  private moved = 0;
  readonly groups = new Map<string, Group>();
  private readonly seen = new Map<string, DedupEntry>();
  /** The same entries in expiry order; one the map no longer holds (its id was stored again later) is stale and skipped. */
  private readonly expiries = new Fifo<DedupEntry>();

  constructor(
    readonly broker: MemoryBroker,
    readonly destination: Destination,
  ) {
    if (destination.kind === 'queue') this.groups.set(QUEUE_GROUP, new Group(QUEUE_GROUP, this, 0));
  }

  /** Offset of the oldest retained record. */
  get first(): number {
    return this.base + this.head;
  }

  get end(): number {
    return this.base + this.records.length;
  }

  get(offset: number): MemoryRecord | undefined {
    const i = offset - this.base;
    return i >= this.head ? this.records[i] : undefined;
  }

  /** Stores messages; returns the offset of each (the original's offset for a deduplicated one). */
  append(messages: readonly NormalizedMessage[], opts: AppendOptions): number[] {
    const cap = this.broker.options.retentionMessages;
    const held = this.end - this.first;
    if (opts.refuseWhenFull && this.destination.kind === 'queue' && held + messages.length > cap) {
      throw new SwitchboardError(
        'rejected',
        `memory: queue "${this.destination.name}" holds ${held.toLocaleString('en-US')} messages not yet done; ${messages.length.toLocaleString('en-US')} more would pass retentionMessages (${cap.toLocaleString('en-US')}), so none were stored`,
        // Room comes back as consumers finish: the same send may succeed later.
        { retryable: true },
      );
    }
    const now = Date.now();
    const window = this.broker.options.dedupWindowMs;
    const offsets: number[] = [];
    for (const m of messages) {
      // An id core generated is new (memory:// never sends a message twice itself): nothing to look up or remember.
      const dedup = opts.dedup && window > 0 && m.idGenerated !== true;
      if (dedup) {
        const prev = this.seen.get(m.id);
        if (prev && prev.until > now) {
          offsets.push(prev.offset);
          continue;
        }
      }
      const delay = m.delayMs ?? 0;
      const rec: MemoryRecord = {
        offset: this.end,
        id: m.id,
        body: m.body,
        key: m.key,
        headers: m.headers,
        timestamp: now,
        availableAt: delay > 0 ? now + delay : 0,
        replyTo: opts.replyTo,
        correlationId: opts.correlationId,
      };
      offsets.push(rec.offset);
      this.records.push(rec);
      if (dedup) {
        const entry: DedupEntry = { id: m.id, until: now + window, offset: rec.offset };
        this.seen.set(m.id, entry);
        this.expiries.push(entry);
      }
    }
    this.sweepSeen(now);
    this.maybeTrim();
    for (const g of this.groups.values()) g.schedule();
    return offsets;
  }

  /**
   * Drops dedup entries that expired or exceed the size cap, oldest first. `expiries` holds them in
   * expiry order (the window is one length for all), so this stops at the first live one: O(1)
   * amortized per message. (Iterating the Map from its start instead walks the holes its deletions
   * leave until V8 rehashes it.)
   */
  private sweepSeen(now: number): void {
    const cap = this.broker.options.dedupWindowSize;
    for (let e = this.expiries.peek(); e !== undefined; e = this.expiries.peek()) {
      if (this.seen.get(e.id) === e) {
        if (e.until > now && this.seen.size <= cap) return;
        this.seen.delete(e.id);
      }
      this.expiries.shift();
    }
  }

  /**
   * True when a group has a consumer with room and more than {@link FLOW_BACKLOG} records not yet
   * handed to it: in one process, a producer whose sends resolve without a turn of the event loop
   * would otherwise keep the consumer from running at all until it stops sending.
   */
  consumersWaiting(): boolean {
    for (const g of this.groups.values()) if (this.end - g.cursor > FLOW_BACKLOG && g.hasRoom()) return true;
    return false;
  }

  /** Records moved in memory by trimming so far (for tests and diagnostics): at most about twice those stored. */
  get movedByTrim(): number {
    return this.moved;
  }

  /** Ids the dedup window holds now (for tests and diagnostics). */
  get dedupSize(): number {
    return this.seen.size;
  }

  /**
   * Drops records past retention, and on queues records every group is done with. A dropped record
   * is released at once; the array is cut only once most of it is dropped, so trimming costs O(1)
   * amortized per record however long the log (cutting it every 1024 records copied the whole
   * backlog each time: quadratic in a backlog of millions).
   */
  maybeTrim(): void {
    const { retentionMessages, retentionMs } = this.broker.options;
    const live = this.end - this.first;
    // The count limit drops only a topic's records: a queue refuses sends past it instead, and a
    // dead-letter copy (which is not refused) must not push out a message no one consumed.
    let drop = this.destination.kind === 'topic' ? Math.max(0, live - retentionMessages) : 0;
    if (retentionMs !== Infinity) {
      const cutoff = Date.now() - retentionMs;
      while (drop < live && this.records[this.head + drop]!.timestamp < cutoff) drop++;
    }
    if (this.destination.kind === 'queue') {
      let low = Infinity;
      for (const g of this.groups.values()) low = Math.min(low, g.committed);
      drop = Math.max(drop, Math.min(low, this.end) - this.first);
    }
    if (drop <= 0) return;
    for (let i = this.head; i < this.head + drop; i++) this.records[i] = undefined;
    this.head += drop;
    if (this.head >= 1024 && this.head >= this.records.length / 2) {
      this.records = this.records.slice(this.head);
      this.moved += this.records.length;
      this.base += this.head;
      this.head = 0;
    }
  }

  /** The first offset at or after `t` (ms since epoch). */
  offsetAt(t: number): number {
    let lo = this.head;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records[mid]!.timestamp < t) lo = mid + 1;
      else hi = mid;
    }
    return this.base + lo;
  }

  group(name: string, from: StartPosition): Group {
    const key = this.destination.kind === 'queue' ? QUEUE_GROUP : name;
    let g = this.groups.get(key);
    if (!g) {
      let start: number;
      if (from === 'earliest') start = this.first;
      else if (from === 'latest') start = this.end;
      else if ('position' in from) start = Math.max(this.first, positionOffset(from.position));
      else if ('offset' in from) start = Math.max(this.first, Number(from.offset));
      else start = this.offsetAt(from.timestamp instanceof Date ? from.timestamp.getTime() : from.timestamp);
      g = new Group(key, this, start);
      this.groups.set(key, g);
    }
    return g;
  }
}

/**
 * An in-process broker. Every `memory://NAME` URL in one process shares the broker of that NAME
 * (`memory://` is the default one), so producers and consumers on separate connections meet.
 */
export class MemoryBroker {
  readonly options: Required<MemoryBrokerOptions>;
  private readonly logs = new Map<string, Log>();
  private readonly inboxes = new Map<string, (correlationId: string, reply: Reply) => void>();
  private members = 0;

  constructor(options: MemoryBrokerOptions = {}) {
    this.options = {
      maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
      retentionMessages: options.retentionMessages ?? 1_000_000,
      retentionMs: options.retentionMs ?? Infinity,
      dedupWindowMs: options.dedupWindowMs ?? 120_000,
      dedupWindowSize: options.dedupWindowSize ?? 100_000,
    };
  }

  log(d: Destination): Log {
    const key = `${d.kind}:${d.name}`;
    let l = this.logs.get(key);
    if (!l) {
      l = new Log(this, d);
      this.logs.set(key, l);
    }
    return l;
  }

  has(d: Destination): boolean {
    return this.logs.has(`${d.kind}:${d.name}`);
  }

  delete(d: Destination): void {
    const key = `${d.kind}:${d.name}`;
    const l = this.logs.get(key);
    if (!l) return;
    for (const g of l.groups.values()) g.close();
    this.logs.delete(key);
  }

  /** Drops one group of a topic (its position and in-flight state); members still in it stop receiving. A queue's one group is the queue itself: nothing to drop. */
  deleteGroup(d: Destination, group: string): void {
    const l = this.logs.get(`${d.kind}:${d.name}`);
    if (!l || d.kind === 'queue') return;
    const g = l.groups.get(group);
    if (!g) return;
    g.close();
    l.groups.delete(group);
  }

  /** The log of `d` and its groups, if it exists. */
  describe(d: Destination): { type: string; name: string; group?: string }[] {
    const l = this.logs.get(`${d.kind}:${d.name}`);
    if (!l) return [];
    const groups = d.kind === 'topic' ? [...l.groups.keys()].map((g) => ({ type: 'group', name: g, group: g })) : [];
    return [{ type: d.kind, name: d.name }, ...groups];
  }

  append(d: Destination, messages: readonly NormalizedMessage[], opts: AppendOptions): number[] {
    return this.log(d).append(messages, opts);
  }

  join(d: Destination, options: ResolvedConsumerOptions, sink: MemberSink): Member {
    const g = this.log(d).group(options.group, d.kind === 'queue' ? 'earliest' : options.from);
    const m = new Member(++this.members, g, options, sink);
    g.join(m);
    return m;
  }

  openInbox(handler: (correlationId: string, reply: Reply) => void): string {
    const address = `_inbox.${randomUUID()}`;
    this.inboxes.set(address, handler);
    return address;
  }

  closeInbox(address: string): void {
    this.inboxes.delete(address);
  }

  reply(address: string, correlationId: string | undefined, m: NormalizedMessage): void {
    const inbox = this.inboxes.get(address);
    if (!inbox) throw new SwitchboardError('not_found', `reply address ${address} is gone (the requester closed or timed out)`);
    if (correlationId === undefined) throw new SwitchboardError('invalid_argument', 'a reply needs the request\'s correlation id');
    inbox(correlationId, createReply(m.body, m.headers, correlationId));
  }
}
