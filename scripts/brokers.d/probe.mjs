#!/usr/bin/env node
// Protocol-level readiness checks for scripts/brokers, with Node's built-ins only (no npm packages,
// so it works before `pnpm install`).
//
//   node probe.mjs kafka    host:port   ApiVersions, then Metadata of every topic (a broker is registered
//                                       and every partition has a leader), then FindCoordinator and
//                                       OffsetFetch for one group per offsets partition (every group
//                                       coordinator has loaded: any consumer group works).
//   node probe.mjs kafka-cluster host:port NODE_ID
//                                       the kafka probe, then: broker NODE_ID is in the metadata's broker
//                                       list (registered and unfenced) and in the ISR of every partition it
//                                       replicates (a restarted node has caught up: a working member again).
//   node probe.mjs kafka-leader host:port TOPIC
//                                       prints the node id leading partition 0 of TOPIC (exit 1: unknown
//                                       topic, or no leader now).
//   node probe.mjs rabbitmq host:port   a full AMQP 0-9-1 handshake as guest/guest on vhost "/".
//   node probe.mjs nats     host:port monitorPort
//                                       /healthz?js-enabled-only=true, then a core NATS CONNECT and a
//                                       JetStream API request ($JS.API.INFO) answered without error.
//   node probe.mjs sqs      host:port   SQS ListQueues (JSON protocol) and SNS ListTopics (query protocol).
//   node probe.mjs redis    host:port   PING, then INFO persistence: answers PONG and the append-only file is on.
//
// Exit 0 when the broker serves; 1 with a one-line reason on stderr otherwise. One attempt per call:
// the caller loops.
import net from 'node:net';
import http from 'node:http';

const [kind, target, extra] = process.argv.slice(2);
const TIMEOUT_MS = Number(process.env.PROBE_TIMEOUT_MS ?? 5000);

function hostPort(s) {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

/** A TCP connection with a byte buffer one can await on. */
function connect(addr) {
  const { host, port } = hostPort(addr);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let waiter = null;
    let closed = null;
    socket.setNoDelay(true);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (waiter) waiter();
    });
    socket.on('close', () => {
      closed = closed ?? new Error('connection closed by the server');
      if (waiter) waiter();
    });
    socket.on('error', (e) => {
      closed = e;
      if (waiter) waiter();
      reject(e);
    });
    socket.once('connect', () =>
      resolve({
        write: (b) => socket.write(b),
        close: () => socket.destroy(),
        /** Wait until `need(buf)` returns a number n > 0: take n bytes off the buffer and return them. */
        async take(need) {
          for (;;) {
            const n = need(buf);
            if (n > 0) {
              const out = buf.subarray(0, n);
              buf = buf.subarray(n);
              return out;
            }
            if (closed) throw closed;
            await new Promise((r) => (waiter = r));
            waiter = null;
          }
        },
      }),
    );
  });
}

function httpRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------- Kafka
class Writer {
  parts = [];
  i8(v) { const b = Buffer.alloc(1); b.writeInt8(v); this.parts.push(b); return this; }
  i16(v) { const b = Buffer.alloc(2); b.writeInt16BE(v); this.parts.push(b); return this; }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this; }
  str(s) { if (s === null) return this.i16(-1); const b = Buffer.from(s, 'utf8'); this.i16(b.length); this.parts.push(b); return this; }
  done() { return Buffer.concat(this.parts); }
}
class Reader {
  constructor(b) { this.b = b; this.o = 0; }
  i8() { const v = this.b.readInt8(this.o); this.o += 1; return v; }
  i16() { const v = this.b.readInt16BE(this.o); this.o += 2; return v; }
  i32() { const v = this.b.readInt32BE(this.o); this.o += 4; return v; }
  str() { const n = this.i16(); if (n < 0) return null; const s = this.b.toString('utf8', this.o, this.o + n); this.o += n; return s; }
}

/** offsets.topic.num.partitions in the server.properties scripts/brokers writes. */
const OFFSETS_PARTITIONS = Number(process.env.KAFKA_OFFSETS_PARTITIONS ?? 10);

/** Java's String.hashCode, as Kafka uses to place a group on an offsets partition. */
function javaHash(s) {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Group names that land on each of the `n` offsets partitions (abs(hash) % n, Kafka's Utils.abs). */
function probeGroups(n) {
  const byPartition = new Map();
  for (let i = 0; byPartition.size < n && i < 10_000; i++) {
    const g = `switchboard-probe-${i}`;
    const p = (javaHash(g) & 0x7fffffff) % n;
    if (!byPartition.has(p)) byPartition.set(p, g);
  }
  return [...byPartition.values()];
}

/** A Kafka connection to `addr` (default: the target) with `call(apiKey, version, body)` and the broker's API versions. */
async function kafkaSession(addr = target) {
  const conn = await connect(addr);
  let correlation = 0;
  // Non-flexible request header v1: api_key, api_version, correlation_id, client_id.
  async function call(apiKey, version, body) {
    const id = ++correlation;
    const payload = Buffer.concat([new Writer().i16(apiKey).i16(version).i32(id).str('switchboard-probe').done(), body]);
    conn.write(Buffer.concat([new Writer().i32(payload.length).done(), payload]));
    const frame = await conn.take((b) => (b.length >= 4 && b.length >= 4 + b.readInt32BE(0) ? 4 + b.readInt32BE(0) : 0));
    const r = new Reader(frame.subarray(4));
    if (r.i32() !== id) throw new Error('kafka: correlation id mismatch');
    return r;
  }
  try {
    // ApiVersions v0: error_code, [api_key, min, max].
    const av = await call(18, 0, Buffer.alloc(0));
    const avErr = av.i16();
    if (avErr !== 0) throw new Error(`kafka: ApiVersions error ${avErr}`);
    const versions = new Map();
    for (let n = av.i32(); n > 0; n--) versions.set(av.i16(), [av.i16(), av.i16()]);
    const supports = (key, v) => { const r = versions.get(key); return r && r[0] <= v && v <= r[1]; };
    // Metadata v4 (non-flexible; v0-v3 are gone in Kafka 4).
    if (!supports(3, 4)) throw new Error('kafka: broker does not serve Metadata v4');
    return { conn, call, supports };
  } catch (e) {
    conn.close();
    throw e;
  }
}

/**
 * Metadata v4 of `topics` (null: every topic), allow_auto_topic_creation = false. Topics as
 * { name, error, partitions: [{ index, error, leader, replicas, isr }] }.
 */
async function kafkaMetadata(call, topics) {
  const w = new Writer();
  if (topics === null) w.i32(-1);
  else { w.i32(topics.length); for (const t of topics) w.str(t); }
  const md = await call(3, 4, w.i8(0).done());
  md.i32(); // throttle_time_ms
  const brokers = [];
  for (let n = md.i32(); n > 0; n--) { const id = md.i32(); const host = md.str(); const port = md.i32(); md.str(); brokers.push({ id, host, port }); }
  const clusterId = md.str();
  const controller = md.i32();
  const list = [];
  for (let t = md.i32(); t > 0; t--) {
    const error = md.i16();
    const name = md.str();
    md.i8(); // is_internal
    const partitions = [];
    for (let n = md.i32(); n > 0; n--) {
      const p = { error: md.i16(), index: md.i32(), leader: md.i32(), replicas: [], isr: [] };
      for (let r = md.i32(); r > 0; r--) p.replicas.push(md.i32());
      for (let r = md.i32(); r > 0; r--) p.isr.push(md.i32());
      partitions.push(p);
    }
    list.push({ name, error, partitions });
  }
  return { brokers, clusterId, controller, topics: list };
}

/** The kafka probe's checks on an open session; the metadata it saw, and a summary line. */
async function kafkaServes({ call, supports }) {
  // topics = null: every topic, so that a partition still without a leader after a restart (which
  // would answer NOT_LEADER to produce requests) keeps the broker "not serving yet".
  const md = await kafkaMetadata(call, null);
  if (md.brokers.length === 0) throw new Error('kafka: metadata lists no broker yet');
  if (md.controller < 0) throw new Error('kafka: metadata has no active controller yet');
  let partitions = 0;
  for (const t of md.topics) {
    if (t.error !== 0) throw new Error(`kafka: topic ${t.name} not ready yet (error ${t.error})`);
    for (const p of t.partitions) {
      if (p.error !== 0 || p.leader < 0) throw new Error(`kafka: ${t.name}-${p.index} has no leader yet (error ${p.error})`);
      partitions++;
    }
  }

  // FindCoordinator v1: key, key_type 0 (group). Creating __consumer_offsets on first use and loading it
  // takes a moment after a fresh start; until then this answers COORDINATOR_NOT_AVAILABLE (15) or
  // COORDINATOR_LOAD_IN_PROGRESS (14).
  // After a restart every partition of __consumer_offsets needs a leader and its groups loaded; one
  // coordinator answering is not enough (groups on the others get NOT_COORDINATOR for a while). So
  // one probe group per offsets partition: FindCoordinator, then OffsetFetch v2 (group-level
  // error_code: COORDINATOR_LOAD_IN_PROGRESS 14, COORDINATOR_NOT_AVAILABLE 15, NOT_COORDINATOR 16).
  // In a cluster the coordinator may be another broker: OffsetFetch goes to the one FindCoordinator names.
  if (!supports(10, 1)) throw new Error('kafka: broker does not serve FindCoordinator v1');
  if (!supports(9, 2)) throw new Error('kafka: broker does not serve OffsetFetch v2');
  const groups = probeGroups(OFFSETS_PARTITIONS);
  const others = new Map();
  try {
    for (const group of groups) {
      const fc = await call(10, 1, new Writer().str(group).i8(0).done());
      fc.i32();
      const fcErr = fc.i16();
      if (fcErr !== 0) throw new Error(`kafka: group coordinator for ${group} not ready yet (error ${fcErr})`);
      fc.str(); // error_message
      fc.i32(); // node_id
      const at = `${fc.str()}:${fc.i32()}`;
      let ask = call;
      if (at !== target) {
        if (!others.has(at)) others.set(at, await kafkaSession(at));
        ask = others.get(at).call;
      }
      await kafkaOffsetsLoaded(ask, group);
    }
  } finally {
    for (const o of others.values()) o.conn.close();
  }
  const brokers = md.brokers.map((b) => `${b.id}@${b.host}:${b.port}`).join(',');
  return { md, summary: `cluster ${md.clusterId}, brokers ${brokers}, controller ${md.controller}, ${partitions} partitions led, ${groups.length} group coordinators ready` };
}

/** OffsetFetch v2 of every partition of `group` answers without a group-level error. */
async function kafkaOffsetsLoaded(call, group) {
  const of = await call(9, 2, new Writer().str(group).i32(-1).done());
  for (let n = of.i32(); n > 0; n--) {
    of.str();
    for (let p = of.i32(); p > 0; p--) { of.i32(); of.i32(); of.i32(); of.str(); of.i16(); }
  }
  const ofErr = of.i16();
  if (ofErr !== 0) throw new Error(`kafka: offsets of ${group} not loaded yet (error ${ofErr})`);
}

async function kafka() {
  const s = await kafkaSession();
  try {
    return (await kafkaServes(s)).summary;
  } finally {
    s.conn.close();
  }
}

/** kafka-cluster host:port NODE_ID: serves, and NODE_ID is a registered broker in every ISR it belongs in. */
async function kafkaCluster() {
  const node = Number(extra);
  if (!Number.isInteger(node) || node < 0) throw new Error('kafka-cluster: NODE_ID must be a node id');
  const s = await kafkaSession();
  try {
    const { md, summary } = await kafkaServes(s);
    if (!md.brokers.some((b) => b.id === node)) throw new Error(`kafka: broker ${node} is not in the cluster's broker list (yet)`);
    for (const t of md.topics)
      for (const p of t.partitions)
        if (p.replicas.includes(node) && !p.isr.includes(node)) throw new Error(`kafka: broker ${node} is not in the ISR of ${t.name}-${p.index} yet`);
    return `${summary}, broker ${node} registered and in sync`;
  } finally {
    s.conn.close();
  }
}

/** kafka-leader host:port TOPIC: the id of the node leading partition 0 of TOPIC. */
async function kafkaLeader() {
  if (!extra) throw new Error('kafka-leader: TOPIC missing');
  const s = await kafkaSession();
  try {
    const md = await kafkaMetadata(s.call, [extra]);
    const t = md.topics.find((x) => x.name === extra);
    if (!t || t.error !== 0) throw new Error(`kafka: topic ${extra} unknown (error ${t?.error})`);
    const p = t.partitions.find((x) => x.index === 0);
    if (!p || p.error !== 0 || p.leader < 0) throw new Error(`kafka: ${extra}-0 has no leader now (error ${p?.error})`);
    return String(p.leader);
  } finally {
    s.conn.close();
  }
}

// ---------------------------------------------------------------- AMQP 0-9-1
async function rabbitmq() {
  const conn = await connect(target);
  const frameOf = (type, channel, payload) => {
    const head = Buffer.alloc(7);
    head.writeUInt8(type, 0); head.writeUInt16BE(channel, 1); head.writeUInt32BE(payload.length, 3);
    return Buffer.concat([head, payload, Buffer.from([0xce])]);
  };
  const method = (cls, m, args) => {
    const h = Buffer.alloc(4); h.writeUInt16BE(cls, 0); h.writeUInt16BE(m, 2);
    return frameOf(1, 0, Buffer.concat([h, ...args]));
  };
  const shortstr = (s) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length]), b]); };
  const longstr = (s) => { const b = Buffer.from(s); const l = Buffer.alloc(4); l.writeUInt32BE(b.length); return Buffer.concat([l, b]); };
  const u16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
  const nextMethod = async () => {
    for (;;) {
      const f = await conn.take((b) => {
        if (b.length >= 8 && b.subarray(0, 4).toString('latin1') === 'AMQP') return 8; // protocol mismatch answer
        return b.length >= 7 && b.length >= 8 + b.readUInt32BE(3) ? 8 + b.readUInt32BE(3) : 0;
      });
      if (f.subarray(0, 4).toString('latin1') === 'AMQP') throw new Error('amqp: server refused protocol 0-9-1');
      if (f.readUInt8(0) !== 1) continue; // heartbeat or other frame
      const p = f.subarray(7, f.length - 1);
      const cls = p.readUInt16BE(0), m = p.readUInt16BE(2);
      if (cls === 10 && m === 50) {
        const code = p.readUInt16BE(4); const text = p.toString('utf8', 7, 7 + p.readUInt8(6));
        throw new Error(`amqp: server closed the connection: ${code} ${text}`);
      }
      return { cls, m, p };
    }
  };
  try {
    conn.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]));
    let r = await nextMethod();
    if (r.cls !== 10 || r.m !== 10) throw new Error('amqp: expected connection.start');
    conn.write(method(10, 11, [u32(0) /* empty client-properties table */, shortstr('PLAIN'), longstr('\0guest\0guest'), shortstr('en_US')]));
    r = await nextMethod();
    if (r.cls !== 10 || r.m !== 30) throw new Error('amqp: expected connection.tune (login refused?)');
    const channelMax = r.p.readUInt16BE(4), frameMax = r.p.readUInt32BE(6);
    conn.write(method(10, 31, [u16(channelMax), u32(frameMax), u16(0)]));
    conn.write(method(10, 40, [shortstr('/'), shortstr(''), Buffer.from([0])]));
    r = await nextMethod();
    if (r.cls !== 10 || r.m !== 41) throw new Error('amqp: expected connection.open-ok');
    conn.write(method(10, 50, [u16(200), shortstr('probe done'), u16(0), u16(0)]));
    try { await nextMethod(); } catch { /* close-ok or socket close: either is fine */ }
    return 'AMQP 0-9-1 handshake as guest on vhost / ok';
  } finally {
    conn.close();
  }
}

// ---------------------------------------------------------------- NATS + JetStream
async function nats() {
  const { host } = hostPort(target);
  const health = await httpRequest(`http://${host}:${extra}/healthz?js-enabled-only=true`);
  if (health.status !== 200) throw new Error(`nats: healthz answered ${health.status} ${health.body.trim()}`);
  const conn = await connect(target);
  const line = () => conn.take((b) => { const i = b.indexOf('\r\n'); return i >= 0 ? i + 2 : 0; }).then((l) => l.toString('utf8').trimEnd());
  try {
    const info = await line();
    if (!info.startsWith('INFO ')) throw new Error('nats: expected INFO');
    const serverInfo = JSON.parse(info.slice(5));
    conn.write('CONNECT {"verbose":false,"pedantic":false,"name":"switchboard-probe","protocol":1,"headers":true,"no_responders":true}\r\n');
    conn.write('SUB _INBOX.switchboard_probe 1\r\nPUB $JS.API.INFO _INBOX.switchboard_probe 0\r\n\r\n');
    for (;;) {
      const l = await line();
      if (l === 'PING') { conn.write('PONG\r\n'); continue; }
      if (l.startsWith('-ERR')) throw new Error(`nats: ${l}`);
      if (l.startsWith('HMSG ')) throw new Error('nats: JetStream API has no responders');
      if (!l.startsWith('MSG ')) continue;
      const size = Number(l.split(' ').pop());
      const body = (await conn.take((b) => (b.length >= size + 2 ? size + 2 : 0))).toString('utf8', 0, size);
      const reply = JSON.parse(body);
      if (reply.error) throw new Error(`nats: JetStream API error ${JSON.stringify(reply.error)}`);
      return `server ${serverInfo.version}, jetstream ${serverInfo.jetstream ? 'enabled' : 'off'}, account info ok`;
    }
  } finally {
    conn.close();
  }
}

// ---------------------------------------------------------------- SQS + SNS (fauxqs)
async function sqs() {
  const base = `http://${target}/`;
  // A SigV4-shaped Authorization header so the emulator sees a region; it checks no signature.
  const auth = 'AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0';
  const q = await httpRequest(base, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues', authorization: auth },
    body: '{}',
  });
  if (q.status !== 200) throw new Error(`sqs: ListQueues answered ${q.status} ${q.body.slice(0, 200)}`);
  const queues = JSON.parse(q.body).QueueUrls ?? [];
  const t = await httpRequest(base, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth.replace('/sqs/', '/sns/') },
    body: 'Action=ListTopics&Version=2010-03-31',
  });
  if (t.status !== 200 || !t.body.includes('ListTopicsResponse')) throw new Error(`sns: ListTopics answered ${t.status} ${t.body.slice(0, 200)}`);
  return `SQS ListQueues ok (${queues.length} queues), SNS ListTopics ok`;
}

// ---------------------------------------------------------------- Redis
async function redis() {
  const conn = await connect(target);
  try {
    // RESP: the inline PING answers +PONG; INFO answers a bulk string ($<len>\r\n<text>\r\n).
    const line = (buf) => { const i = buf.indexOf('\r\n'); return i < 0 ? 0 : i + 2; };
    conn.write('PING\r\n');
    const pong = (await conn.take(line)).toString();
    if (!pong.startsWith('+PONG')) throw new Error(`redis: PING answered ${pong.trim()}`);
    conn.write('INFO persistence\r\n');
    const head = (await conn.take(line)).toString();
    if (!head.startsWith('$')) throw new Error(`redis: INFO answered ${head.trim()}`);
    const len = Number(head.slice(1));
    const info = (await conn.take((buf) => (buf.length >= len + 2 ? len + 2 : 0))).toString();
    if (/loading:1/.test(info)) throw new Error('redis: still loading its data');
    const aof = /aof_enabled:(\d)/.exec(info)?.[1];
    return `PONG, aof_enabled:${aof ?? '?'}`;
  } finally {
    conn.close();
  }
}

const probes = { kafka, 'kafka-cluster': kafkaCluster, 'kafka-leader': kafkaLeader, rabbitmq, nats, sqs, redis };
if (!probes[kind] || !target) {
  console.error('usage: probe.mjs kafka|kafka-cluster|kafka-leader|rabbitmq|nats|sqs|redis host:port [nats-monitor-port|node-id|topic]');
  process.exit(2);
}
const timer = setTimeout(() => { console.error(`${kind}: no answer within ${TIMEOUT_MS} ms`); process.exit(1); }, TIMEOUT_MS);
try {
  const what = await probes[kind]();
  clearTimeout(timer);
  console.log(what);
  process.exit(0);
} catch (e) {
  console.error(e?.code === 'ECONNREFUSED' ? `${kind}: connection refused on ${target}` : String(e?.message ?? e));
  process.exit(1);
}
