import { parseUrl } from '@switchboard/core';
import type { Admin, ITopicConfig } from 'kafkajs';
import { resolveKafkaOptions } from '@switchboard/kafka';
import { Topics } from '../src/topics';

/** A stand-in admin that records the topics it is asked to create and describes them as led. */
function recording() {
  const created: ITopicConfig[] = [];
  const admin = {
    async createTopics({ topics }: { topics: ITopicConfig[] }) {
      created.push(...topics);
      return true;
    },
    async fetchTopicMetadata({ topics }: { topics: string[] }) {
      return { topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] })) };
    },
  };
  return { admin: admin as unknown as Admin, created };
}

describe('topics - durability settings of created topics', () => {
  test('topics - replicationFactor and minInsyncReplicas reach the topic created, beside retention', async () => {
    const { admin, created } = recording();
    const topics = new Topics(admin, { partitions: 3, replicationFactor: 3, minInsyncReplicas: 2, timeoutMs: 1000 });
    await topics.ensure(['t'], { retentionMs: 60_000 });
    expect(created).toEqual([
      {
        topic: 't',
        numPartitions: 3,
        replicationFactor: 3,
        configEntries: [
          { name: 'retention.ms', value: '60000' },
          { name: 'min.insync.replicas', value: '2' },
        ],
      },
    ]);
  });

  test('topics - without them the broker defaults apply (no entries sent)', async () => {
    const { admin, created } = recording();
    await new Topics(admin, { partitions: 1, replicationFactor: undefined, timeoutMs: 1000 }).ensure(['u']);
    expect(created).toEqual([{ topic: 'u', numPartitions: 1 }]);
  });

  test('options - minInsyncReplicas above replicationFactor is a configuration error; from the URL it is coerced', () => {
    expect(() => resolveKafkaOptions(parseUrl('kafka://h:1?replicationFactor=1&minInsyncReplicas=2'))).toThrow(/minInsyncReplicas \(2\) cannot exceed replicationFactor \(1\)/);
    expect(resolveKafkaOptions(parseUrl('kafka://h:1?replicationFactor=3&minInsyncReplicas=2')).minInsyncReplicas).toBe(2);
  });
});
