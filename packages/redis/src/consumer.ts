import { randomUUID } from 'node:crypto';
import { SwitchboardError, type Destination, type Headers } from '@switchboard/core';
import type { ConsumerDriver, InboundMessage, InboundSink, ResolvedConsumerOptions } from '@switchboard/core/driver';
import { decodeFields, encodeFields, keysOf, PARKED, startId, streamKey, type Field, type Keys } from './names';
import { CLAIM, PARK } from './scripts';
import type { RedisLink } from './session';

/** What the driver needs to settle one delivery: its entry and the attempt it was handed out as. */
export interface RedisHandle {
  readonly entryId: string;
  readonly fields: readonly Buffer[];
  readonly attempt: number;
}

type Entry = [Buffer, Buffer[]];

/**
 * A member of a consumer group: one blocking connection reads new entries (XREADGROUP BLOCK);
 * between reads it claims due retries from the group's due set, and about once a second the
 * entries of members that are gone. Hands out at most `prefetch` unsettled deliveries.
 */
export async function openRedisConsumer(link: RedisLink, source: Destination, o: ResolvedConsumerOptions): Promise<ConsumerDriver<RedisHandle>> {
  const keys: Keys = keysOf(link.options.prefix, source, o.group);
  const me = randomUUID();
  const liveKey = `${link.options.prefix}:live:${me}`;
  const liveTtl = 2 * link.options.blockMs + 1000;
  const atMostOnce = o.ackMode === 'at-most-once';
  try {
    await link.cmd(['XGROUP', 'CREATE', keys.stream, keys.group, source.kind === 'queue' ? '0' : startId(o.from), 'MKSTREAM']);
  } catch (err) {
    if (!/BUSYGROUP/.test(String((err as Error).message))) throw err;
  }
  // The member is a consumer of the group from the start (Redis 7.0 adds one only once it read an
  // entry), so members giving an entry back see it as a live other member (CLAIM's grace).
  await link.cmd(['XGROUP', 'CREATECONSUMER', keys.stream, keys.group, me]);
  await link.cmd(['SET', liveKey, '1', 'PX', String(liveTtl)]);
  const reader = await link.blockingClient();

  let sink: InboundSink<RedisHandle> | undefined;
  let running: Promise<void> | undefined;
  /** Deliveries handed out and not settled yet; `acking` of them have an ack on its way to Redis. */
  let inFlight = 0;
  let acking = 0;
  /** Reads blocking on the reader connection now (the push loop's, a fetch's). */
  let blocked = 0;
  let closed = false;
  let wakeSlot: (() => void) | undefined;
  let lastSweep = 0;
  let nextDue = Infinity;
  const timers = new Set<NodeJS.Timeout>();
  // The liveness key lives while the member does, whether it is pushed to, polls, or neither.
  const heartbeat = setInterval(() => {
    link.cmd(['SET', liveKey, '1', 'PX', String(liveTtl)]).catch((err: unknown) => {
      if (!closed) link.report(link.classify(err), `redis: refreshing the liveness key of a member of ${source.kind}:${source.name} failed (the next beat retries)`);
    });
  }, link.options.blockMs / 2);
  heartbeat.unref();

  /** Ends a blocking read at once (CLIENT UNBLOCK from the command connection). */
  const wake = () => {
    wakeSlot?.();
    if (blocked > 0 && reader.id !== undefined) void link.cmd(['CLIENT', 'UNBLOCK', String(reader.id)]).catch(() => undefined);
  };
  const settled = () => {
    inFlight--;
    wakeSlot?.();
  };
  const toInbound = (entryId: string, fields: Buffer[], attempt: number): InboundMessage<RedisHandle> => {
    const d = decodeFields(entryId, fields);
    return {
      handle: { entryId, fields, attempt },
      id: d.id,
      body: d.body,
      key: d.key,
      headers: d.headers,
      attempt,
      receipt: entryId,
      position: source.kind === 'topic' ? entryId : undefined,
      timestamp: d.timestamp,
      replyTo: d.replyTo,
      correlationId: d.correlationId,
    };
  };
  const claim = async (mode: 'due' | 'orphans', max: number) => {
    const grace = String(link.options.blockMs + 1000);
    const rows = await link.cmd<[Buffer, Buffer[], number][]>(['EVAL', CLAIM, '3', keys.stream, keys.due, keys.from, keys.group, me, String(Date.now()), String(max), mode, `${link.options.prefix}:live:`, PARKED, grace]);
    return rows.map(([id, fields, count]) => toInbound(id.toString('latin1'), fields, Number(count)));
  };
  /** New entries, up to `max`, waiting up to `blockMs` for the first (0: not at all). */
  const readNew = async (max: number, blockMs: number): Promise<InboundMessage<RedisHandle>[]> => {
    const args: Field[] = ['XREADGROUP', 'GROUP', keys.group, me, 'COUNT', String(max)];
    if (blockMs > 0) args.push('BLOCK', String(Math.ceil(blockMs)));
    if (atMostOnce) args.push('NOACK');
    args.push('STREAMS', keys.stream, '>');
    blocked++;
    try {
      const entries = (await reader.cmd<[Buffer, Entry[]][] | null>(args))?.[0]?.[1] ?? [];
      const out: InboundMessage<RedisHandle>[] = [];
      // An entry deleted since it was added reads with no fields (null): nothing to deliver.
      // Entry ids are ASCII ("<ms>-<seq>"): latin1 decodes them without a UTF-8 pass.
      for (const [id, fields] of entries) if (fields) out.push(toInbound(id.toString('latin1'), fields, 1));
      return out;
    } finally {
      blocked--;
    }
  };
  /** Due retries, and about once a second the entries of members that are gone, up to `room`. */
  const claimReady = async (room: number): Promise<InboundMessage<RedisHandle>[]> => {
    const now = Date.now();
    let got: InboundMessage<RedisHandle>[] = [];
    if (now - lastSweep > 1000 || nextDue <= now) {
      if (now - lastSweep > 1000) {
        lastSweep = now;
        void link.moveDelayed();
        got = await claim('orphans', room);
      }
      nextDue = Infinity;
      if (got.length < room) got = got.concat(await claim('due', room - got.length));
    }
    return got;
  };

  const loop = async (s: InboundSink<RedisHandle>) => {
    let backoff = 0;
    while (sink === s) {
      try {
        // Read again once half the prefetch window is free (or nothing is held): few large reads, not one per ack.
        // A delivery whose ack is on its way no longer counts, so the next read overlaps the XACK's round trip.
        const held = inFlight - acking;
        if (held > 0 && o.prefetch - held < Math.max(1, Math.floor(o.prefetch / 2))) {
          await new Promise<void>((r) => (wakeSlot = r));
          wakeSlot = undefined;
          continue;
        }
        const room = o.prefetch - held;
        let got = await claimReady(room);
        if (got.length === 0 && sink === s) got = await readNew(room, link.options.blockMs);
        backoff = 0;
        for (const m of got) {
          if (sink !== s) {
            // Stopped while reading: give it back unseen.
            void release(m.handle, false).catch(() => undefined);
            continue;
          }
          inFlight++;
          s.deliver(m);
        }
      } catch (err) {
        if (sink !== s) break;
        const e = link.classify(err);
        if (e.code === 'not_found') {
          s.fail(new SwitchboardError('not_found', `Redis: the consumer group of ${source.kind}:${source.name} is gone (the destination or group was deleted)`, { cause: err }));
          break;
        }
        link.report(e, `redis: reading ${source.kind}:${source.name} failed; retrying`);
        backoff = Math.min(2000, backoff ? backoff * 2 : 100);
        await new Promise((r) => setTimeout(r, backoff));
      }
    }
  };

  const dueAt = async (h: RedisHandle, delayMs: number) => {
    const at = Date.now() + delayMs;
    await link.cmd(['HSET', keys.from, h.entryId, me]);
    await link.cmd(['ZADD', keys.due, String(at), h.entryId]);
    if (delayMs <= 0) {
      nextDue = 0;
      wake();
      return;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      nextDue = 0;
      wake();
    }, delayMs);
    t.unref();
    timers.add(t);
  };
  const release = async (h: RedisHandle, seen: boolean) => {
    // Unseen: the delivery count goes back, so the next claim hands it out as the same attempt.
    if (!seen) await link.cmd(['XCLAIM', keys.stream, keys.group, me, '0', h.entryId, 'JUSTID', 'RETRYCOUNT', String(Math.max(0, h.attempt - 1))]);
    await dueAt(h, 0);
  };
  // Acks asked for in one turn of the event loop go out as one XACK (and for a queue one XDEL) with
  // every entry id, at the turn's end (setImmediate, where node-redis writes its queue anyway); each
  // resolves once Redis replied to both.
  let ackIds: string[] | undefined;
  let acksDone: Promise<void> | undefined;
  const flushAcks = (ids: string[]): Promise<void> => {
    ackIds = undefined;
    // The read loop looks again once the whole turn's acks are counted: one large read, not one per ack.
    wakeSlot?.();
    const acked = link.ackCmd(['XACK', keys.stream, keys.group, ...ids]);
    return source.kind === 'queue' ? Promise.all([acked, link.ackCmd(['XDEL', keys.stream, ...ids])]).then(() => undefined) : acked.then(() => undefined);
  };
  const acked = () => {
    acking--;
    settled();
  };
  const ackFailed = (err: unknown): never => {
    acking--;
    throw err;
  };
  const ackEntry = (h: RedisHandle): Promise<void> => {
    if (ackIds) {
      ackIds.push(h.entryId);
      return acksDone!;
    }
    const ids = (ackIds = [h.entryId]);
    acksDone = new Promise<void>((resolve, reject) => setImmediate(() => flushAcks(ids).then(resolve, reject)));
    return acksDone;
  };

  return {
    native: { extend: true },
    start(s) {
      sink = s;
      running = loop(s);
    },
    /**
     * Due retries and orphans first, then XREADGROUP COUNT (BLOCK for what is left of `waitMs`),
     * within the prefetch window; a retry coming due or the signal ends the wait early.
     */
    async fetch(max, waitMs, signal) {
      const room = Math.min(max, atMostOnce ? max : o.prefetch - (inFlight - acking));
      if (room <= 0 || closed) return [];
      const deadline = Date.now() + waitMs;
      signal?.addEventListener('abort', wake, { once: true });
      try {
        for (;;) {
          let got = await claimReady(room);
          if (got.length === 0) got = await readNew(room, signal?.aborted ? 0 : deadline - Date.now());
          inFlight += got.length;
          if (got.length > 0 || signal?.aborted || Date.now() >= deadline) return got;
        }
      } catch (err) {
        if (closed) return [];
        throw link.classify(err);
      } finally {
        signal?.removeEventListener('abort', wake);
      }
    },
    async stop() {
      // Nothing is delivered once the sink is gone; what a read still in progress returns is released.
      sink = undefined;
      wake();
    },
    // Promise reactions shared by every ack, not an async function: no frame or closure per ack.
    ack(h) {
      acking++;
      return ackEntry(h).then(acked, ackFailed);
    },
    async retry(h, delayMs) {
      await dueAt(h, delayMs);
      settled();
    },
    async deadLetter(h, to: Destination, headers: Headers) {
      const d = decodeFields(h.entryId, [...h.fields]);
      const fields = encodeFields({ id: d.id, body: d.body, key: d.key, headers: d.headers, delayMs: undefined }, undefined, headers);
      await link.cmd(['XADD', streamKey(link.options.prefix, to), '*', ...fields]);
      await ackEntry(h);
      settled();
    },
    async extend(h) {
      await link.cmd(['XCLAIM', keys.stream, keys.group, me, '0', h.entryId, 'JUSTID']);
    },
    async release(h, how) {
      await release(h, how.seen);
      settled();
    },
    ...(atMostOnce ? { taken: () => settled() } : {}),
    async close() {
      sink = undefined;
      closed = true;
      clearInterval(heartbeat);
      for (const t of timers) clearTimeout(t);
      // Closing the reader ends a blocking read at once; entries it had taken stay pending and are parked.
      await reader.close();
      await running;
      await link.cmd(['EVAL', PARK, '2', keys.stream, liveKey, keys.group, me, PARKED]).catch((err: unknown) => {
        if (link.classify(err).code !== 'not_found') throw err;
      });
    },
  };
}
