import type { NatsConnection, Status } from '@nats-io/transport-node';
import { SwitchboardError } from '@switchboard/core';
import type { DriverHost } from '@switchboard/core/driver';

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * What one status event of the NATS client becomes: a lost connection is reported (origin
 * `reconnect`) at warn, a regained one at info; the client's other events go to the application's
 * logger only, at the level that fits (errors and slow consumers warn, the rest debug). `undefined`:
 * nothing to say.
 */
export function describeStatus(s: Status, url: string): { level: Level; message: string; report?: SwitchboardError; state?: 'lost' | 'regained'; fields: object } | undefined {
  switch (s.type) {
    case 'disconnect':
      return {
        level: 'warn',
        message: `nats: lost the connection to ${s.server} (${url}); reconnecting`,
        report: new SwitchboardError('connection', `nats: disconnected from ${s.server}`),
        state: 'lost',
        fields: { server: s.server },
      };
    case 'reconnect':
      return {
        level: 'info',
        message: `nats: connected again to ${s.server} (${url})`,
        report: new SwitchboardError('connection', `nats: reconnected to ${s.server} (the connection had been lost)`),
        state: 'regained',
        fields: { server: s.server },
      };
    case 'reconnecting':
      return { level: 'debug', message: `nats: trying to reconnect (${url})`, fields: {} };
    case 'error':
      return { level: 'warn', message: `nats: the server reported an error: ${s.error.message}`, fields: { err: s.error.message } };
    case 'ldm':
      return { level: 'info', message: `nats: server ${s.server} entered lame duck mode (it is going to shut down)`, fields: { server: s.server } };
    case 'staleConnection':
      return { level: 'warn', message: `nats: the connection went stale (no answer to pings); reconnecting (${url})`, fields: {} };
    case 'slowConsumer':
      return { level: 'warn', message: `nats: slow consumer on ${s.sub.getSubject()} (${s.pending} messages pending)`, fields: { subject: s.sub.getSubject(), pending: s.pending } };
    case 'update':
      return { level: 'debug', message: 'nats: cluster update', fields: { added: s.added ?? [], deleted: s.deleted ?? [] } };
    case 'ping':
      return { level: 'debug', message: `nats: ping (${s.pendingPings} pending)`, fields: { pendingPings: s.pendingPings } };
    case 'forceReconnect':
      return { level: 'debug', message: 'nats: forced reconnect', fields: {} };
    case 'close':
      return { level: 'debug', message: `nats: connection closed (${url})`, fields: {} };
    default:
      return undefined;
  }
}

/**
 * Routes the NATS client's status events (its only log: nats.js prints nothing unless its `debug`
 * option is on, which the adapter never sets) to `host.logger`, and lost / regained connections to
 * `host.report({ origin: 'reconnect' })`; calls `onReconnect` once the client reconnected (the
 * consumers send new pull requests: the server may have lost the open ones). Returns a function
 * that stops watching.
 */
export function watchStatus(nc: NatsConnection, host: DriverHost, url: string, onReconnect: () => void = () => undefined): () => void {
  let stopped = false;
  const events = nc.status();
  void (async () => {
    try {
      for await (const s of events) {
        if (stopped) break;
        if (s.type === 'reconnect') {
          try {
            onReconnect();
          } catch {
            // A consumer's hook must not stop the watch.
          }
        }
        const d = describeStatus(s, url);
        if (!d) continue;
        if (d.report) host.report({ origin: 'reconnect', error: d.report, ...(d.state ? { state: d.state } : {}) }, d.message, d.level);
        else {
          try {
            host.logger[d.level]({ nats: s.type, ...d.fields }, d.message);
          } catch {
            // A broken logger must not stop the watch.
          }
        }
      }
    } catch {
      // The iterator ends with the connection.
    }
  })();
  return () => {
    stopped = true;
    (events as { stop?: () => void }).stop?.();
  };
}
