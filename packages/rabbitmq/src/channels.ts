import type * as amqp from 'amqplib';
import { abortedError, SwitchboardError } from '@switchboard/core';
import type { PublishOutcomes } from '@switchboard/core/driver';
import { classifyError } from './classify-error';
import type { Link } from './link';

/**
 * A lazily opened channel that is reopened after it died (a channel error such as 404 closes
 * the channel in AMQP) or after a reconnect.
 */
export class ChannelSlot<C extends amqp.Channel> {
  private ch: C | undefined;
  private gen = -1;
  private opening: Promise<C> | undefined;

  constructor(
    private readonly link: Link,
    private readonly open: (m: amqp.ChannelModel) => Promise<C>,
    private readonly setup?: (ch: C) => Promise<void> | void,
    /** Called when an adopted channel closes while its connection stays up (a channel-level error). */
    private readonly onUnexpectedClose?: () => void,
  ) {}

  /** The open channel, opening one when needed (waiting for a reconnect up to `timeoutMs`). */
  get(timeoutMs?: number, signal?: AbortSignal): Promise<C> {
    if (this.ch && this.gen === this.link.generation) return Promise.resolve(this.ch);
    this.opening ??= (async () => {
      const m = await this.link.current(timeoutMs, signal);
      const gen = this.link.generation;
      let ch: C;
      try {
        ch = await this.open(m);
      } catch (err) {
        throw classifyError(err);
      }
      // A channel error (e.g. 404, 406) closes the channel; the slot opens another on next use.
      ch.on('error', (err: Error) => this.link.logger.debug({ backend: 'rabbitmq', err: err.message }, 'amqplib: channel error'));
      ch.on('close', () => {
        if (this.ch !== ch) return;
        this.ch = undefined;
        // A lost connection closes its channels first: look again once the connection's own close event ran.
        setImmediate(() => {
          if (this.link.isOpen && this.link.generation === gen) this.onUnexpectedClose?.();
        });
      });
      if (this.setup) await this.setup(ch);
      this.ch = ch;
      this.gen = gen;
      return ch;
    })().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** The channel if it is open now, without opening one. */
  peek(): C | undefined {
    return this.ch && this.gen === this.link.generation ? this.ch : undefined;
  }

  /**
   * Stops handing out `ch` when it is the current channel: the next {@link get} opens a fresh one.
   * `ch` is closed once `drained()` settles (its outstanding work), never under it. Called for a
   * channel already retired (or replaced), it does nothing, and `drained` is not called.
   */
  retire(ch: C, drained: () => Promise<unknown>): void {
    if (this.ch !== ch) return;
    this.ch = undefined;
    void drained()
      .catch(() => undefined)
      .then(() => ch.close().catch(() => undefined));
  }

  /** Forgets the channel (after the connection is lost). */
  reset(): void {
    this.ch = undefined;
  }

  async close(): Promise<void> {
    const ch = this.ch;
    this.ch = undefined;
    if (ch) await ch.close().catch(() => undefined);
  }
}

/** Per-channel publish state: the confirm sequence (the delivery tag RabbitMQ acks) and back-pressure. */
interface PubState {
  readonly ch: amqp.ConfirmChannel;
  seq: number;
  drain: Promise<void> | undefined;
}

/**
 * Publishes on one ConfirmChannel. Confirmed publishes resolve with the channel's publish sequence
 * number (the delivery tag of the broker's ack), reject with `rejected` on a nack (and retire the
 * channel: the next publish opens a fresh one) and with a retryable `connection` error when the
 * channel dies first. When `publish` reports a full buffer
 * the next publish waits for `drain`, so nothing is buffered without bound.
 */
export class Publisher {
  private readonly slot: ChannelSlot<amqp.ConfirmChannel>;
  private readonly state = new WeakMap<amqp.ConfirmChannel, PubState>();
  /** Publishes waiting for a channel or for a full one to drain. */
  private waiting = 0;

  constructor(private readonly link: Link) {
    this.slot = new ChannelSlot(link, (m) => m.createConfirmChannel());
  }

  /** Resolves the broker reference (`<generation>.<sequence>`) once confirmed, or undefined when `confirm` is false. */
  publish(exchange: string, routingKey: string, content: Buffer, options: amqp.Options.Publish, confirm: boolean, signal?: AbortSignal): Promise<string | undefined> {
    // The hot path: a channel is open and not full, so the message goes out now, with no await
    // (and no promise) before it; only the confirm is waited for.
    const st = this.ready(signal);
    if (st) return this.publishOn(st.ch, st, exchange, routingKey, content, options, confirm);
    return this.publishWhenReady(exchange, routingKey, content, options, confirm, signal);
  }

  /**
   * The state of the channel a publish can go out on now, with nothing before it: one is open, not
   * full, no earlier publish waits (sends keep their order) and `signal` has not fired. Else undefined.
   */
  private ready(signal: AbortSignal | undefined): PubState | undefined {
    const ch = this.slot.peek();
    if (!ch || this.waiting > 0 || signal?.aborted) return undefined;
    const st = this.stateOf(ch);
    return st.drain ? undefined : st;
  }

  private stateOf(ch: amqp.ConfirmChannel): PubState {
    let st = this.state.get(ch);
    if (!st) {
      st = { ch, seq: 0, drain: undefined };
      this.state.set(ch, st);
    }
    return st;
  }

  /** Waits for a channel (opening one, or for a reconnect) and for a full one to drain, then publishes. */
  private async publishWhenReady(exchange: string, routingKey: string, content: Buffer, options: amqp.Options.Publish, confirm: boolean, signal?: AbortSignal): Promise<string | undefined> {
    // While any publish waits here, later ones wait too (no hot path past them): sends keep their order.
    this.waiting++;
    try {
      for (;;) {
        const ch = await this.slot.get(this.link.options.sendTimeoutMs, signal);
        const st = this.stateOf(ch);
        if (st.drain) {
          await st.drain;
          continue;
        }
        if (signal?.aborted) throw abortedError(signal);
        return this.publishOn(ch, st, exchange, routingKey, content, options, confirm);
      }
    } finally {
      this.waiting--;
    }
  }

  /**
   * Publishes a batch to one exchange and routing key, in order, and resolves once every message is
   * settled with one outcome per message ({@link PublishOutcomes}): its reference (undefined when
   * unconfirmed) or the Error that failed it alone. While a channel is open and not full a message
   * costs one confirm callback, not a promise of its own; the others wait for a channel or a drain as
   * {@link publish} does, and the order of the batch is kept, as a
   * message that waits makes every later one wait too.
   */
  publishAll(exchange: string, routingKey: string, contents: readonly Buffer[], options: readonly amqp.Options.Publish[], confirm: boolean, signal?: AbortSignal): Promise<PublishOutcomes> {
    const n = contents.length;
    const outcomes = new Array<string | undefined | Error>(n);
    if (n === 0) return Promise.resolve(outcomes);
    let left = n;
    let done!: (o: PublishOutcomes) => void;
    const all = new Promise<PublishOutcomes>((resolve) => (done = resolve));
    const settled = (i: number, outcome: string | undefined | Error) => {
      outcomes[i] = outcome;
      if (--left === 0) done(outcomes);
    };
    for (let i = 0; i < n; i++) {
      const st = this.ready(signal);
      if (st) {
        const ch = st.ch;
        const gen = this.link.generation;
        const seq = st.seq + 1;
        try {
          const ok = this.write(ch, st, exchange, routingKey, contents[i]!, options[i]!, confirm ? (err) => settled(i, err ? this.nacked(ch, err) : `${gen}.${seq}`) : undefined);
          if (!confirm) {
            if (ok) settled(i, undefined);
            else void st.drain!.then(() => settled(i, undefined));
          }
        } catch (err) {
          settled(i, classifyError(err));
        }
        continue;
      }
      this.publishWhenReady(exchange, routingKey, contents[i]!, options[i]!, confirm, signal).then(
        (ref) => settled(i, ref),
        (err: unknown) => settled(i, err instanceof Error ? err : classifyError(err)),
      );
    }
    return all;
  }

  /**
   * Writes one publish on `ch` now (numbered `st.seq + 1` once amqplib took it: a publish amqplib
   * refuses while encoding takes no number, and throws). Returns false when the channel's buffer is
   * full, after setting `st.drain` to what later publishes wait for.
   */
  private write(ch: amqp.ConfirmChannel, st: PubState, exchange: string, routingKey: string, content: Buffer, options: amqp.Options.Publish, onConfirm: ((err: unknown) => void) | undefined): boolean {
    const ok = onConfirm ? ch.publish(exchange, routingKey, content, options, onConfirm) : ch.publish(exchange, routingKey, content, options);
    st.seq++;
    if (!ok) {
      st.drain = new Promise<void>((resolve) => {
        const done = () => {
          ch.removeListener('drain', done);
          ch.removeListener('close', done);
          st.drain = undefined;
          resolve();
        };
        ch.once('drain', done);
        ch.once('close', done);
      });
    }
    return ok;
  }

  /**
   * The broker nacked a publish on `ch` (or the channel died under it): the error it fails with.
   * After a node of a cluster dies, a confirm channel opened on another node can stay bound to the
   * dead quorum-queue leader and nack every publish until that node returns (RabbitMQ 3.10; a fresh
   * channel works at once). So a nack retires the channel: later sends open a new one, and this one
   * closes once its outstanding confirms are in.
   */
  private nacked(ch: amqp.ConfirmChannel, err: unknown): SwitchboardError {
    this.slot.retire(ch, () => ch.waitForConfirms());
    return classifyError(err);
  }

  /** Publishes on `ch` now. Resolves once confirmed (or, unconfirmed, once a full buffer drained). */
  private publishOn(
    ch: amqp.ConfirmChannel,
    st: PubState,
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: amqp.Options.Publish,
    confirm: boolean,
  ): Promise<string | undefined> {
    const gen = this.link.generation;
    const seq = st.seq + 1;
    let ok: boolean;
    let confirmation: Promise<string> | undefined;
    try {
      if (confirm) {
        let settle: { resolve: (ref: string) => void; reject: (e: unknown) => void } | undefined;
        confirmation = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
        ok = this.write(ch, st, exchange, routingKey, content, options, (err: unknown) => {
          if (err) settle!.reject(this.nacked(ch, err));
          else settle!.resolve(`${gen}.${seq}`);
        });
      } else {
        ok = this.write(ch, st, exchange, routingKey, content, options, undefined);
      }
    } catch (err) {
      return Promise.reject(classifyError(err));
    }
    if (!ok && !confirm) return st.drain!.then(() => undefined);
    return confirmation ?? RESOLVED_UNDEFINED;
  }
}

const RESOLVED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined);

export function connectionLost(what: string): SwitchboardError {
  return new SwitchboardError('connection', `${what}: the channel was lost; the broker will redeliver the message`);
}
