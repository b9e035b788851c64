// The conformance catalogue against NATS JetStream with per-key order (?partitions=4): keyed
// messages go to shard subjects read by one max_ack_pending-1 durable consumer per shard and group,
// keyless ones to the plain subject (packages/nats/README.md, "Per-key order (partitions)"). The IX
// cases' foreign side publishes keyed messages by that README's wire format, written here from the
// README, not from the adapter; everything else is the plain nats.js foreign side.
import type { Destination } from '@switchboard/core';
import type { ForeignSide } from '@switchboard/conformance';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { conformanceAgainst } from './define';
import { natsSuite, VARIANT_LOAD_COUNT, withParam } from './suites';

const PARTITIONS = 4;

/** FNV-1a, 32 bit (offset basis 0x811c9dc5, prime 0x01000193), of the key's UTF-8 bytes: the README's routing hash. */
function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(key, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** The README's shard subject of a keyed message: `sb.qp.<name>.<shard>` (`sb.tp.` for a topic). */
const shardSubject = (dest: Destination, key: string) => `sb.${dest.kind === 'queue' ? 'qp' : 'tp'}.${dest.name}.${fnv1a(key) % PARTITIONS}`;

/** The plain foreign side, with keyed publishes routed to their shard subject (keyless ones keep the plain subject). */
function partitionedForeign(base: ForeignSide): ForeignSide {
  return {
    ...base,
    async open(url) {
      const client = await base.open(url);
      const u = new URL(url.replace(/^nats(\+js)?:/i, 'http:'));
      const nc = await connect({ servers: `${u.hostname}:${u.port || 4222}`, name: 'switchboard-ix-foreign-router', tls: null });
      const js = jetstream(nc);
      return {
        ...client,
        async publish(dest, m) {
          if (m.key === undefined) return client.publish(dest, m);
          const h = natsHeaders();
          for (const [k, v] of Object.entries(m.headers ?? {})) h.set(k, v);
          h.set('sb-key', m.key);
          if (m.id !== undefined) h.set('Nats-Msg-Id', m.id);
          await js.publish(shardSubject(dest, m.key), m.body, { headers: h });
        },
        async close() {
          await client.close();
          await nc.close();
        },
      };
    },
  };
}

conformanceAgainst({
  ...natsSuite,
  name: `nats (jetstream, partitions=${PARTITIONS})`,
  foreign: partitionedForeign(natsSuite.foreign!),
  variant: withParam('partitions', String(PARTITIONS)),
  loadCount: VARIANT_LOAD_COUNT,
});
