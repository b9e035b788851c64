// What an example left on a broker, seen with the broker's own client (not Switchboard): the names
// of every object whose name holds the run's suffix (Kafka topics and groups, SQS queues and SNS
// topics, JetStream streams), or, on RabbitMQ, which of the queues and exchanges the adapter's
// README names for the destinations still exist.
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { SwitchboardError, type Connection, type Destination } from '@switchboard/core';
import amqp from 'amqplib';
import { createClient } from '@redis/client';
import { Kafka, logLevel } from 'kafkajs';
import { sqsEndpoint, type BrokerName } from '../harness';

/** Names of the broker objects that are still there for `made` (every name holding `suffix`). */
export async function leftovers(name: BrokerName, url: string, suffix: string, made: readonly Destination[], groups: readonly string[] = []): Promise<string[]> {
  switch (name) {
    case 'redis': {
      // Every key (streams, due sets, reply streams) whose name holds the suffix.
      const client = createClient({ url: url.split('?')[0] });
      await client.connect();
      try {
        const keys: string[] = [];
        for await (const batch of client.scanIterator({ MATCH: `*${suffix}*`, COUNT: 1000 })) keys.push(...batch);
        return keys;
      } finally {
        client.destroy();
      }
    }
    case 'kafka': {
      const admin = new Kafka({ brokers: [new URL(url).host], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const topics = await admin.listTopics();
        const { groups: g } = await admin.listGroups();
        return [...topics, ...g.map((x) => `group ${x.groupId}`)].filter((n) => n.includes(suffix));
      } finally {
        await admin.disconnect();
      }
    }
    case 'sqs': {
      const { endpoint, region, credentials } = sqsEndpoint(url);
      const sqs = new SQSClient({ endpoint, region, credentials });
      const sns = new SNSClient({ endpoint, region, credentials });
      const names: string[] = [];
      let token: string | undefined;
      do {
        const page = await sqs.send(new ListQueuesCommand({ MaxResults: 1000, NextToken: token }));
        names.push(...(page.QueueUrls ?? []));
        token = page.NextToken;
      } while (token);
      do {
        const page = await sns.send(new ListTopicsCommand({ NextToken: token }));
        names.push(...(page.Topics ?? []).map((t) => t.TopicArn ?? ''));
        token = page.NextToken;
      } while (token);
      sqs.destroy();
      sns.destroy();
      return names.filter((n) => n.includes(suffix));
    }
    case 'nats': {
      const nc = await natsConnect({ servers: url });
      try {
        const jsm = await jetstreamManager(nc);
        const names: string[] = [];
        for await (const s of jsm.streams.names()) names.push(s);
        return names.filter((n) => n.includes(suffix));
      } finally {
        await nc.close();
      }
    }
    case 'rabbitmq': {
      // RabbitMQ has no listing over AMQP: check the names packages/rabbitmq/README.md gives (a queue
      // per queue destination; per topic an exchange, a queue `<topic>@<group>` per group and `<topic>@@stream`).
      const conn = await amqp.connect(url);
      const left: string[] = [];
      try {
        const exists = async (kind: 'queue' | 'exchange', n: string) => {
          const ch = await conn.createChannel();
          ch.on('error', () => {});
          try {
            if (kind === 'queue') await ch.checkQueue(n);
            else await ch.checkExchange(n);
            left.push(`${kind} ${n}`);
            await ch.close();
          } catch {
            // 404: not there (the channel is closed by the broker).
          }
        };
        for (const d of made) {
          if (d.kind === 'queue') await exists('queue', d.name);
          else {
            await exists('exchange', d.name);
            await exists('queue', `${d.name}@@stream`);
            for (const g of groups) await exists('queue', `${d.name}@${g}`);
          }
        }
      } finally {
        await conn.close();
      }
      return left;
    }
  }
}

/**
 * Whether the backend's driver implements `admin.listObjects`, i.e. its adapter says what it made
 * and so promises to delete it all (issue 15 item 7). Where it does not, leftovers are reported, not failed.
 */
export async function listsObjects(conn: Connection, d: Destination): Promise<boolean> {
  try {
    await conn.admin.listObjects(d);
    return true;
  } catch (err) {
    if (err instanceof SwitchboardError && err.code === 'unsupported') return false;
    throw err;
  }
}

/**
 * A fresh consumer (a new group, from the earliest message) of each destination finds nothing; it
 * is deleted again afterwards. The check for backends whose driver cannot list what it made.
 */
export async function expectFreshConsumersFindNothing(conn: Connection, made: readonly Destination[]): Promise<void> {
  for (const d of made) {
    const c = await conn.consumer(d, { group: 'leftover-check', from: 'earliest' });
    const found = await c.poll({ max: 10, waitMs: 500 });
    await c.close();
    expect({ destination: d.name, found: found.map((x) => x.text()) }).toEqual({ destination: d.name, found: [] });
    if (d.kind === 'topic') await conn.admin.deleteGroup(d, 'leftover-check').catch(() => undefined);
    await conn.admin.deleteDestination(d);
  }
}
