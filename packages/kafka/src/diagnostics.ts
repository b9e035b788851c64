import { createRequire } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import type { DriverHost } from '@switchboard/core/driver';
import { logLevel as kafkaLogLevel, type ISocketFactory, type logCreator } from 'kafkajs';
import { classifyError } from './classify-error';

/**
 * A kafkajs `logCreator` that writes kafkajs's own log lines to the application's logger
 * (`host.logger`, silent by default) at the matching level: ERROR -> error, WARN -> warn,
 * INFO -> info, DEBUG -> debug. Nothing goes to stdout or stderr. Fields: `{ backend: 'kafka',
 * namespace, ...kafkajs's own fields }`, the message as the second argument.
 */
export function kafkaLogCreator(logger: DriverHost['logger']): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log as { message: string; timestamp?: string; logger?: string } & Record<string, unknown>;
      const method = level === kafkaLogLevel.ERROR ? 'error' : level === kafkaLogLevel.WARN ? 'warn' : level === kafkaLogLevel.INFO ? 'info' : 'debug';
      try {
        logger[method]({ backend: 'kafka', namespace, ...fields }, String(message));
      } catch {
        // A broken logger must not break kafkajs.
      }
    };
}

/**
 * Watches every broker connection kafkajs opens and reports a lost connection once (warn) and its
 * return once (info) through `host.report({ origin: 'reconnect', state })`. A connection counts as
 * lost when a socket fails (refused, reset, unreachable), or when the broker closed a socket and a
 * plain TCP connect to it then fails within 10 s; it is back when a socket connects again after
 * that. A socket the broker closes while it still accepts connections (idle connections) is not a
 * loss: kafkajs opens a new one when needed.
 */
export class ConnectionWatch {
  private lost = false;
  private closing = false;
  private probing = false;

  constructor(
    private readonly host: Pick<DriverHost, 'report'>,
    private readonly url: string,
  ) {}

  /** The socket factory to give kafkajs: `target` picks the address (default: the broker kafkajs asks for). */
  socketFactory(target?: { host: string; port: number }): ISocketFactory {
    return ({ host, port, ssl, onConnect }) => {
      const h = target?.host ?? host;
      const p = target?.port ?? port;
      const socket = ssl
        ? tls.connect({ host: h, port: p, ...(net.isIP(h) ? {} : { servername: h }), ...(typeof ssl === 'object' ? ssl : {}) }, () => {
            this.connected();
            onConnect();
          })
        : net.connect({ host: h, port: p }, () => {
            this.connected();
            onConnect();
          });
      socket.setKeepAlive(true, 60_000);
      // kafkajs closes its sockets with end(); any other end came from the broker's side.
      let ours = false;
      const end = socket.end.bind(socket);
      socket.end = ((...args: unknown[]) => {
        ours = true;
        return (end as (...a: unknown[]) => typeof socket)(...args);
      }) as typeof socket.end;
      socket.on('error', (err) => this.failed(err, `${h}:${p}`));
      socket.on('end', () => {
        if (!ours) this.probe(h, p);
      });
      return socket;
    };
  }

  /**
   * The broker closed a connection: a broker that is stopping, or one that closes idle connections
   * (`connections.max.idle.ms`). A plain TCP connect is tried every second for 10 s: the first that
   * fails reports the loss; if all succeed, it was an idle close and nothing is reported.
   */
  private probe(host: string, port: number): void {
    if (this.lost || this.closing || this.probing) return;
    this.probing = true;
    let tries = 0;
    const once = () => {
      if (this.lost || this.closing) return void (this.probing = false);
      const s = net.connect({ host, port });
      const timer = setTimeout(() => s.destroy(new Error(`no answer from ${host}:${port} within 2000 ms`)), 2000);
      s.once('connect', () => {
        clearTimeout(timer);
        s.destroy();
        if (++tries >= 10) this.probing = false;
        else setTimeout(once, 1000).unref();
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        this.probing = false;
        this.failed(err, `${host}:${port}`);
      });
    };
    setTimeout(once, 200).unref();
  }

  /** Stops reporting (the connection is closing on purpose). */
  close(): void {
    this.closing = true;
  }

  private failed(err: Error, where: string): void {
    if (this.lost || this.closing) return;
    this.lost = true;
    this.host.report({ origin: 'reconnect', state: 'lost', error: classifyError(err) }, `kafka: lost the connection to ${where} (${this.url}): ${err.message}; kafkajs reconnects`, 'warn');
  }

  private connected(): void {
    if (!this.lost || this.closing) return;
    this.lost = false;
    this.host.report({ origin: 'reconnect', state: 'regained', error: undefined }, `kafka: connected to ${this.url} again`, 'info');
  }
}

const PATCHED = Symbol.for('switchboard.kafka.requestQueuePatched');

/**
 * Fixes kafkajs 2.2.4's request queue (kafkajs issue #1751): `scheduleCheckPendingRequests` calls
 * `setTimeout(fn, throttledUntil - Date.now())` with `throttledUntil = -1` when nothing is throttled,
 * a negative delay that Node 24 answers with a `TimeoutNegativeWarning` process warning (and a
 * timer that runs again every millisecond while the queue is idle). The replacement schedules a
 * check only when a request waits, at the end of the throttle (or after the usual 10 ms), never with
 * a negative delay. Applied once per process, to the kafkajs copy this package loads.
 */
export function patchKafkaRequestQueue(): void {
  const load = createRequire(require.resolve('kafkajs'));
  type Queue = { pending: unknown[]; throttledUntil: number; throttleCheckTimeoutId: NodeJS.Timeout | null; checkPendingRequests(): void; scheduleCheckPendingRequests(): void };
  let RequestQueue: { prototype: Queue } & Record<symbol, boolean>;
  try {
    RequestQueue = load('./src/network/requestQueue/index.js') as typeof RequestQueue;
  } catch {
    return; // another kafkajs layout: nothing to fix
  }
  if (RequestQueue[PATCHED]) return;
  RequestQueue[PATCHED] = true;
  RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: Queue) {
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
    const wait = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, wait > 0 ? wait : 10);
  };
}
