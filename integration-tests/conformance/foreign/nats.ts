// The IX cases' foreign side for NATS: @nats-io/transport-node and @nats-io/jetstream alone, never
// Switchboard, working on the subjects and streams the adapter uses, in the wire format
// packages/nats/README.md ("Wire format") documents (default prefixes: subjects `sb`, streams `SB`):
// - nats:// (JetStream): queue `q` is the work-queue stream `SB_Q_<enc q>` on subject `sb.q.<q>`, topic
//   `t` the limits stream `SB_T_<enc t>` on `sb.t.<t>`; a foreign producer publishes there through
//   JetStream (PubAck), a foreign reader uses a JetStream consumer of its own. Requests go to the core
//   subject `sb.rq.<q>` (`sb.rt.<t>`), answered on the request's reply subject.
// - nats+core:// (core NATS): queue `q` is the subject `sb.q.<q>`, topic `t` the subject `t`; requests
//   go to the same subject with a reply subject.
// - id: the `Nats-Msg-Id` header (Switchboard also writes `sb-message-id`); key: the `sb-key` header;
//   headers: NATS headers (strings; the first value of a repeated name).
import { readFileSync } from 'node:fs';
import { parseUrl } from '@switchboard/core';
import { connect, createInbox, headers as natsHeaders, nkeyAuthenticator, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { Destination, Headers } from '@switchboard/core';
import type { ForeignClient, ForeignMessage, ForeignSide } from '@switchboard/conformance';

const SUBJECT_PREFIX = 'sb';
const STREAM_PREFIX = 'SB';
/** Headers the adapter writes for itself: not the application's. */
const INTERNAL = new Set(['Nats-Msg-Id', 'sb-message-id', 'sb-key', 'sb-reply-to', 'sb-correlation-id', 'sb-not-before', 'sb-encoded-headers']);

/** The stream name of a destination, as the adapter derives it (every byte other than [A-Za-z0-9-] as _XX). */
function streamOf(dest: Destination): string {
  let enc = '';
  for (const byte of Buffer.from(dest.name, 'utf8')) {
    const c = String.fromCharCode(byte);
    enc += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `${STREAM_PREFIX}_${dest.kind === 'queue' ? 'Q' : 'T'}_${enc}`;
}

function toForeign(msg: Pick<Msg, 'data' | 'headers'>): ForeignMessage {
  const h = msg.headers;
  const headers: Record<string, string> = {};
  const first = (k: string) => (h?.has(k) ? h.values(k)[0] : undefined);
  const encoded = new Set((first('sb-encoded-headers') ?? '').split(',').filter(Boolean).map(decodeURIComponent));
  for (const k of h?.keys() ?? []) {
    if (INTERNAL.has(k)) continue;
    const v = first(k) ?? '';
    headers[k] = encoded.has(k) ? decodeURIComponent(v) : v;
  }
  return { body: new Uint8Array(msg.data), key: first('sb-key'), headers, id: first('Nats-Msg-Id') ?? first('sb-message-id') };
}

function buildHeaders(m: { key?: string; headers?: Headers; id?: string }): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(m.headers ?? {})) h.set(k, v);
  if (m.key !== undefined) h.set('sb-key', m.key);
  if (m.id !== undefined) h.set('Nats-Msg-Id', m.id);
  return h;
}

/**
 * nats.js connect options from a nats:// URL, as a nats.js user writes them: user/password or token,
 * an NKey seed file (`nkey=`), and TLS (`tls=true`, `ca=<PEM file>`). Without TLS asked for,
 * `tls: null`: nats.js would otherwise upgrade whenever the server offers TLS (allow_non_tls).
 */
function serverOf(url: string): { servers: string[]; user?: string; pass?: string; token?: string; authenticator?: ReturnType<typeof nkeyAuthenticator>; tls: { ca?: string } | null } {
  // Several servers (a cluster's URL) are a comma-separated host list, as nats.js takes them.
  const u = parseUrl(url);
  const q = u.params;
  const nkey = q.nkey;
  const auth = nkey
    ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(readFileSync(nkey, 'utf8').trim())) }
    : u.username && u.password
      ? { user: u.username, pass: u.password }
      : u.username
        ? { token: u.username }
        : {};
  const ca = q.ca;
  const tls = ca ? { ca: readFileSync(ca, 'utf8') } : q.tls === 'true' ? {} : null;
  return { servers: u.hosts.map((h) => `${h.host}:${h.port ?? 4222}`), ...auth, tls };
}

/**
 * Whether a subject the monitoring endpoint lists can be a client's leftover. Not counted: reply
 * inboxes (`_INBOX.`), the server's system subjects (`$`), and the wildcard a server adds per
 * account the first time that account uses a service import with responses (`_R_.<id>.>`, e.g.
 * on the first JetStream API request through that node). That one belongs to the account for the
 * server's lifetime: in a cluster it appears on whichever node a new connection happens to pick.
 */
export function isClientSubject(subject: string): boolean {
  return !subject.startsWith('_INBOX.') && !subject.startsWith('$') && !subject.startsWith('_R_.');
}

/** What the NATS monitoring endpoint (e.g. http://127.0.0.1:8222) lists as client subscriptions (see isClientSubject), when it answers. */
async function monitoredSubjects(monitor: string): Promise<string[]> {
  try {
    const res = await fetch(`${monitor}/subsz?subs=1&limit=100000`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { subscriptions_list?: { subject: string; qgroup?: string }[] };
    return (body.subscriptions_list ?? []).filter((s) => isClientSubject(s.subject)).map((s) => `subscription:${s.subject}${s.qgroup ? ` (${s.qgroup})` : ''}`);
  } catch {
    return [];
  }
}

/** Whether subscription subject `pattern` (with NATS wildcards `*` and a trailing `>`) takes messages published on `subject`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i === p.length - 1 && s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/**
 * Whether the server behind `monitor` routes `subject` somewhere: a local subscription (subsz) or a
 * route's interest (routez). `exact`: only a subscription on `subject` itself (one's own); else any
 * whose subject matches it, wildcards included (Switchboard's connections take requests through
 * `<prefix>.rq.>`).
 */
async function hasInterest(monitor: string, subject: string, exact: boolean): Promise<boolean> {
  const takes = (pattern: string) => (exact ? pattern === subject : subjectMatches(pattern, subject));
  try {
    const local = (await (await fetch(`${monitor}/subsz?subs=1&test=${encodeURIComponent(subject)}`, { signal: AbortSignal.timeout(3000) })).json()) as { subscriptions_list?: { subject: string }[] };
    if ((local.subscriptions_list ?? []).some((s) => takes(s.subject))) return true;
    const routes = (await (await fetch(`${monitor}/routez?subs=1`, { signal: AbortSignal.timeout(3000) })).json()) as { routes?: { subscriptions_list?: string[] }[] };
    // A route lists "<subject>" or "<subject> <queue group>".
    return (routes.routes ?? []).some((r) => (r.subscriptions_list ?? []).some((entry) => takes(entry.split(' ')[0]!)));
  } catch {
    return false;
  }
}

/**
 * In a cluster a subscription reaches the other servers asynchronously, over the routes: a core
 * request sent through another server in the meantime finds no responders (a plain NATS requester
 * gets a 503; Switchboard's requester then stores the request in the stream, which a plain responder
 * does not read). Before a request/reply exchange the foreign side waits, up to `limitMs`, until
 * every server's monitoring endpoint shows interest in `subject`, as an operator's test of a cluster
 * would. A single server (one monitor) needs no wait.
 */
async function interestEverywhere(monitors: readonly string[] | undefined, subject: string, exact: boolean, limitMs = 15_000): Promise<void> {
  if (!monitors || monitors.length < 2) return;
  const until = Date.now() + limitMs;
  for (const m of monitors) {
    while (!(await hasInterest(m, subject, exact)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }
}

async function open(url: string, mode: 'jetstream' | 'core', monitors: readonly string[] | undefined): Promise<ForeignClient> {
  const server = serverOf(url);
  const nc: NatsConnection = await connect({ ...server, name: 'switchboard-ix-foreign' });
  let jsm: JetStreamManager | undefined;
  const jsmOf = async () => (jsm ??= await jetstreamManager(nc));
  const js = jetstream(nc);
  const closers: (() => Promise<void>)[] = [];

  /** Where messages of `dest` travel. */
  const subject = (dest: Destination) => (mode === 'core' && dest.kind === 'topic' ? dest.name : `${SUBJECT_PREFIX}.${dest.kind === 'queue' ? 'q' : 't'}.${dest.name}`);
  /** Where requests to `dest` go. */
  const requestSubject = (dest: Destination) => (mode === 'core' ? subject(dest) : `${SUBJECT_PREFIX}.${dest.kind === 'queue' ? 'rq' : 'rt'}.${dest.name}`);

  return {
    async publish(dest, m) {
      const h = buildHeaders(m);
      if (mode === 'core') {
        nc.publish(subject(dest), m.body, { headers: h });
        await nc.flush();
        return;
      }
      await js.publish(subject(dest), m.body, { headers: h });
    },

    async receive(dest, n, timeoutMs) {
      const got: ForeignMessage[] = [];
      let done!: (m: ForeignMessage[]) => void;
      let fail!: (e: Error) => void;
      const messages = new Promise<ForeignMessage[]>((resolve, reject) => ((done = resolve), (fail = reject)));
      messages.catch(() => undefined);
      const timer = setTimeout(() => fail(new Error(`the foreign reader got ${got.length} of ${n} messages within ${timeoutMs} ms`)), timeoutMs);
      const take = (msg: Msg) => {
        got.push(toForeign(msg));
        if (got.length === n) done(got);
      };
      let cleanup: () => Promise<void> = async () => undefined;
      const ready = (async () => {
        if (mode === 'core') {
          const sub = nc.subscribe(subject(dest), { callback: (err, msg) => void (err || take(msg)) });
          await nc.flush();
          cleanup = async () => sub.unsubscribe();
          return;
        }
        // A JetStream consumer of its own (explicit acks: a work-queue stream takes no other kind).
        const stream = streamOf(dest);
        const m = await jsmOf();
        const info = await m.consumers.add(stream, { ack_policy: AckPolicy.Explicit, deliver_policy: dest.kind === 'queue' ? DeliverPolicy.All : DeliverPolicy.New, inactive_threshold: 60_000_000_000 });
        const consumer = await js.consumers.get(stream, info.name);
        const iter = await consumer.consume({ max_messages: 100 });
        void (async () => {
          for await (const jm of iter) {
            jm.ack();
            take(jm as unknown as Msg);
          }
        })().catch(() => undefined);
        cleanup = async () => {
          await iter.close().catch(() => undefined);
          await m.consumers.delete(stream, info.name).catch(() => undefined);
        };
      })();
      ready.catch((e: unknown) => fail(e instanceof Error ? e : new Error(String(e))));
      const closing = messages.finally(() => {
        clearTimeout(timer);
        return ready.then(() => cleanup()).catch(() => undefined);
      });
      closing.catch(() => undefined);
      closers.push(() => closing.then(() => undefined, () => undefined));
      return { ready, messages };
    },

    async respond(dest, answer) {
      const sub = nc.subscribe(requestSubject(dest), {
        callback: (err, msg) => {
          if (err || !msg.reply) return;
          msg.respond(new TextEncoder().encode(answer(toForeign(msg))));
        },
      });
      await nc.flush();
      // Its own subscription, not a Switchboard connection's wildcard that takes the subject too.
      await interestEverywhere(monitors, requestSubject(dest), true);
      const close = async () => sub.unsubscribe();
      closers.push(close);
      return { close };
    },

    async request(dest, body, timeoutMs) {
      // NATS's convention: a core request (reply subject = a fresh inbox); the first answer is the reply.
      await interestEverywhere(monitors, requestSubject(dest), false, timeoutMs);
      const reply = await nc.request(requestSubject(dest), new TextEncoder().encode(body), { timeout: timeoutMs, noMux: true, reply: createInbox() });
      return toForeign(reply);
    },

    async listObjects() {
      const out: string[] = [];
      try {
        const m = await jsmOf();
        for await (const s of m.streams.list()) {
          out.push(`stream:${s.config.name}`);
          for await (const c of m.consumers.list(s.config.name)) out.push(`consumer:${s.config.name}/${c.name}`);
        }
      } catch {
        // No JetStream on this server: core NATS stores nothing.
      }
      // Subscriptions live on the server a client is connected to: ask every monitoring endpoint.
      for (const m of monitors ?? [`http://${server.servers[0]!.split(':')[0]}:8222`]) out.push(...(await monitoredSubjects(m)));
      return out;
    },

    async close() {
      for (const c of closers) await c();
      await nc.drain().catch(() => nc.close());
    },
  };
}

/**
 * nats.js as the other side of Switchboard's NATS adapter, for nats:// (JetStream) or nats+core://.
 * `monitors`: the servers' monitoring endpoints IX6 asks for subscriptions (default: port 8222 of the
 * URL's first host).
 */
export function natsForeign(mode: 'jetstream' | 'core', monitors?: readonly string[]): ForeignSide {
  return {
    open: (url) => open(url, mode, monitors),
    typedHeaders: { reason: 'NATS headers are strings only: the protocol has no typed header values' },
    nativeRequestReply: true,
    stableIds:
      mode === 'jetstream'
        ? true
        : {
            reason:
              'core NATS stamps nothing on a message (no sequence, no id) and never redelivers: a message without Nats-Msg-Id or sb-message-id gets a random <subject>#<nuid> per subscription, so each group of a topic sees another id',
          },
  };
}
