import { createHash } from 'node:crypto';
import { SwitchboardError, type Destination } from '@switchboard/core';

/** SQS queue names: 1-80 characters of letters, digits, `-` and `_` (FIFO queues end in `.fifo`, counted). */
export const SQS_QUEUE_NAME_MAX = 80;
/** SNS topic names: 1-256 characters of letters, digits, `-` and `_` (FIFO topics end in `.fifo`, counted). */
export const SNS_TOPIC_NAME_MAX = 256;

const LOGICAL_NAME = /^[A-Za-z0-9_.-]+$/;
const FIFO_SUFFIX = '.fifo';
/** Marks the stored form of a name with periods: `<name, periods as "_">_dot<hex mask of which "_" were periods>`. */
const DOT_MARK = '_dot';
const DOTTED_FORM = /^(.*)_dot([1-9a-f][0-9a-f]*)$/;
/** Separates topic and group in the SQS queue of a topic's consumer group. */
const GROUP_SEPARATOR = '--';
/** Reply queues of request/response: `sb-reply-<20 hex>`. */
export const REPLY_QUEUE_PREFIX = 'sb-reply-';
const HASH_LENGTH = 10;
/** How a hashed group queue name ends (after its last `--`): the hash alone, or `-<hash>`. */
const HASHED_GROUP_END = new RegExp(`(^|-)[0-9a-f]{${HASH_LENGTH}}$`);
const PLAIN_GROUP = /^[A-Za-z0-9_-]+$/;

/** A destination as it exists in AWS: its physical name and whether it is FIFO. */
export interface PhysicalName {
  readonly name: string;
  readonly fifo: boolean;
}

/** `name` without a `.fifo` suffix, and whether it had one (`.fifo` alone is a plain name). */
function splitFifo(logical: string): { base: string; suffixed: boolean } {
  const suffixed = logical.endsWith(FIFO_SUFFIX) && logical.length > FIFO_SUFFIX.length;
  return { base: suffixed ? logical.slice(0, -FIFO_SUFFIX.length) : logical, suffixed };
}

/**
 * The stored form of a name base (without `.fifo`). SQS and SNS allow no periods, so a name with
 * periods is stored as the name with each period as `_`, then `_dot` and a hex mask saying which
 * of its underscores were periods (bit 0 = the first underscore): `orders.created` is
 * `orders_created_dot1`, `a_b.c` is `a_b_c_dot2`. A name without periods is stored as it is. This
 * is injective: the mask gives back exactly the periods, and a name without periods that has the
 * form of an encoded one is refused by {@link assertValidDestination}.
 */
export function encodeNameBase(base: string): string {
  if (!base.includes('.')) return base;
  let mask = 0n;
  let bit = 0n;
  let out = '';
  for (const ch of base) {
    if (ch === '.' || ch === '_') {
      if (ch === '.') mask |= 1n << bit;
      bit += 1n;
      out += '_';
    } else {
      out += ch;
    }
  }
  return `${out}${DOT_MARK}${mask.toString(16)}`;
}

/**
 * The name with periods whose stored form is `stored`, or undefined when `stored` is not such a
 * form (the inverse of {@link encodeNameBase} on its image).
 */
export function decodeDottedBase(stored: string): string | undefined {
  const m = DOTTED_FORM.exec(stored);
  if (!m) return undefined;
  const readable = m[1]!;
  const mask = BigInt(`0x${m[2]!}`);
  const underscores = [...readable].filter((c) => c === '_').length;
  if (mask >= 1n << BigInt(underscores)) return undefined;
  let bit = 0n;
  let out = '';
  for (const ch of readable) {
    if (ch === '_') {
      out += (mask >> bit) & 1n ? '.' : '_';
      bit += 1n;
    } else {
      out += ch;
    }
  }
  return out;
}

/**
 * Maps a Switchboard destination name to the SQS queue / SNS topic name, without validating it
 * (see {@link assertValidDestination}, which every name passes first). Names without periods map
 * to themselves, so queues created outside Switchboard are reachable by their own names; periods
 * are encoded ({@link encodeNameBase}). A name ending in `.fifo` is a FIFO queue/topic; with
 * `forceFifo` (the connection's FIFO mode) every name is, `.fifo` being appended. `prefix` is
 * prepended (a namespace inside one account).
 */
export function physicalName(logical: string, prefix = '', forceFifo = false): PhysicalName {
  const { base, suffixed } = splitFifo(logical);
  const fifo = suffixed || forceFifo;
  return { name: `${prefix}${encodeNameBase(base)}${fifo ? FIFO_SUFFIX : ''}`, fifo };
}

/**
 * Checks that `d` maps to an SQS queue / SNS topic of its own and returns that name; throws
 * `invalid_argument` (before any network call) saying why otherwise. Every accepted name maps to a
 * different broker object (no two names share a queue or topic):
 * - letters, digits, `-`, `_` and `.`; periods are encoded (`a.b` is stored as `a_b_dot1`, never as `a_b`);
 * - a name of the form of an encoded one (`a_b_dot1`) is refused: it is where `a.b` is stored;
 * - queue names may not contain `--` (it separates topic and group in group queues, `<topic>--<group>`)
 *   nor start with `sb-reply-` (reply queues);
 * - in FIFO mode `.fifo` is appended to every name, so a name ending in `.fifo` is refused (it
 *   would share the queue of the name without it);
 * - the stored form, prefix and `.fifo` included, is at most 80 characters for a queue, 256 for a topic.
 */
export function assertValidDestination(d: Destination, prefix = '', forceFifo = false): PhysicalName {
  const queue = d.kind === 'queue';
  const max = queue ? SQS_QUEUE_NAME_MAX : SNS_TOPIC_NAME_MAX;
  const what = queue ? 'SQS queue' : 'SNS topic';
  const fail = (why: string): never => {
    throw new SwitchboardError('invalid_argument', `invalid ${d.kind} name "${d.name.slice(0, 300)}": ${why}`, {
      details: { destination: d.name.slice(0, 300) },
    });
  };
  if (!LOGICAL_NAME.test(d.name)) fail(`${what} names use letters, digits, "-", "_" and "." (periods are encoded); a ".fifo" suffix makes it FIFO`);
  const { base, suffixed } = splitFifo(d.name);
  if (forceFifo && suffixed) {
    fail(`in FIFO mode ".fifo" is appended to every name, so "${d.name}" would share the ${what} of "${base}": use "${base}"`);
  }
  if (queue && base.includes(GROUP_SEPARATOR)) {
    fail(`"--" is reserved: it separates topic and group in the queue of a topic's consumer group (topic "a" group "b" is the queue "a--b")`);
  }
  if (queue && base.startsWith(REPLY_QUEUE_PREFIX)) fail(`"${REPLY_QUEUE_PREFIX}" starts the names of reply queues (request/response)`);
  if (!base.includes('.')) {
    const origin = decodeDottedBase(base);
    if (origin !== undefined) fail(`the name is reserved: it is where "${origin}${suffixed ? FIFO_SUFFIX : ''}" is stored (${what} names allow no periods)`);
  }
  const phys = physicalName(d.name, prefix, forceFifo);
  if (phys.name.length > max) {
    fail(
      `it is stored as "${phys.name.slice(0, 300)}", ${phys.name.length} characters, over the ${max}-character limit of ${what} names` +
        ` (${[prefix ? `the prefix "${prefix}"` : '', base.includes('.') ? 'the "_dot<mask>" that encodes periods' : '', phys.fifo ? 'the ".fifo" suffix' : ''].filter(Boolean).join(', ') || 'nothing added'} included)`,
    );
  }
  return phys;
}

function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, HASH_LENGTH);
}

/**
 * A group name that goes into its queue name as it is: letters, digits, `_`, `-`; no `--`, not
 * starting with `-` (so the last `--` of `<topic>--<group>` always separates the two), and not
 * ending like a hashed name (`<10 hex>` alone or after a `-`).
 */
function isPlainGroup(group: string): boolean {
  return PLAIN_GROUP.test(group) && !group.includes(GROUP_SEPARATOR) && !group.startsWith('-') && !HASHED_GROUP_END.test(group);
}

/**
 * The SQS queue that holds one subscription group of one SNS topic: `<topic>--<group>` (`.fifo` for
 * a FIFO topic), where `<topic>` is the topic's stored name. Distinct (topic, group) pairs get
 * distinct queues: the group part is the text after the last `--`, and a group that could blur
 * that (`--` inside, a leading `-`, characters SQS refuses) or a name over 80 characters gives a
 * shortened name ending in `-<hash of (topic, group)>`, a form plain groups never take. Deterministic:
 * every member of the group, in any process, reaches the same queue. User queue names contain no
 * `--`, so no queue name is a group queue.
 */
export function groupQueueName(topic: PhysicalName, group: string): PhysicalName {
  const suffix = topic.fifo ? FIFO_SUFFIX : '';
  const topicBase = topic.fifo ? topic.name.slice(0, -FIFO_SUFFIX.length) : topic.name;
  const plain = `${topicBase}${GROUP_SEPARATOR}${group}${suffix}`;
  if (isPlainGroup(group) && plain.length <= SQS_QUEUE_NAME_MAX) return { name: plain, fifo: topic.fifo };
  const h = shortHash(topic.name, group);
  const room = SQS_QUEUE_NAME_MAX - suffix.length - h.length - 3;
  const t = topicBase.slice(0, Math.ceil(room * 0.6));
  const g = group.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, room - t.length);
  return { name: `${t}${GROUP_SEPARATOR}${g}-${h}${suffix}`, fifo: topic.fifo };
}

const DEDUP_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

/**
 * A value usable as a FIFO MessageGroupId / MessageDeduplicationId (1-128 characters of letters,
 * digits and punctuation): the value itself when it qualifies, else a SHA-256 hex digest of it.
 */
export function fifoToken(value: string): string {
  return DEDUP_ID.test(value) ? value : createHash('sha256').update(value).digest('hex');
}

/**
 * Whether `queueName` is the queue of a consumer group of `topic` ({@link groupQueueName}), and
 * which group when the name says it: the plain form `<topic>--<group>` gives the group back; the
 * hashed form (`<topic, shortened>--<group, shortened>-<hash>`) is recognised only with
 * `hashed: true` (the caller knows the queue is subscribed to the topic) and gives no group.
 */
export function groupOfQueue(topic: PhysicalName, queueName: string, hashed = false): { group: string | undefined } | undefined {
  const suffix = topic.fifo ? FIFO_SUFFIX : '';
  if (!queueName.endsWith(suffix) || (!topic.fifo && queueName.endsWith(FIFO_SUFFIX))) return undefined;
  const base = queueName.slice(0, queueName.length - suffix.length);
  const topicBase = topic.fifo ? topic.name.slice(0, -FIFO_SUFFIX.length) : topic.name;
  const cut = base.lastIndexOf(GROUP_SEPARATOR);
  if (cut > 0 && base.slice(0, cut) === topicBase) {
    const group = base.slice(cut + GROUP_SEPARATOR.length);
    if (isPlainGroup(group) && groupQueueName(topic, group).name === queueName) return { group };
  }
  if (!hashed) return undefined;
  const room = SQS_QUEUE_NAME_MAX - suffix.length - HASH_LENGTH - 3;
  const t = topicBase.slice(0, Math.ceil(room * 0.6));
  if (base.startsWith(`${t}${GROUP_SEPARATOR}`) && new RegExp(`-[0-9a-f]{${HASH_LENGTH}}$`).test(base)) return { group: undefined };
  return undefined;
}
