// Admin against a live endpoint (SWITCHBOARD_TEST_SQS_URL; skipped without it), issue 15 item 7:
// deleteDestination removes every group queue of a topic, deleteGroup one group, listObjects lists them.
import { CreateQueueCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ListSubscriptionsByTopicCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { parseUrl } from '@switchboard/core';
import { connectSqs, groupQueueName, physicalName, resolveSqsOptions, type SqsConnection } from '@switchboard/sqs';

const url = process.env.SWITCHBOARD_TEST_SQS_URL;
const suffix = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

(url ? describe : describe.skip)('sqs admin - against a live endpoint', () => {
  let conn: SqsConnection;
  let sqs: SQSClient;
  let sns: SNSClient;
  beforeAll(async () => {
    conn = await connectSqs(url!);
    const o = resolveSqsOptions(parseUrl(url!));
    const config = { region: o.region, ...(o.endpoint ? { endpoint: o.endpoint } : {}), ...(typeof o.credentials === 'object' ? { credentials: o.credentials } : {}) };
    sqs = new SQSClient(config);
    sns = new SNSClient(config);
  });
  afterAll(async () => {
    await conn.close();
    sqs.destroy();
    sns.destroy();
  });

  const queueExists = (name: string) =>
    sqs.send(new GetQueueUrlCommand({ QueueName: name })).then(
      () => true,
      () => false,
    );
  const topicArn = async (name: string) => {
    let next: string | undefined;
    do {
      const r = await sns.send(new ListTopicsCommand({ NextToken: next }));
      const hit = r.Topics?.find((t) => t.TopicArn?.endsWith(`:${name}`));
      if (hit) return hit.TopicArn;
      next = r.NextToken;
    } while (next);
    return undefined;
  };

  it('admin - listObjects, deleteGroup and deleteDestination cover every group queue and subscription of a topic', async () => {
    const t = `adm-${suffix()}`;
    const dest = `topic:${t}`;
    const phys = physicalName(t);
    const plain = groupQueueName(phys, 'g1').name;
    const hashed = groupQueueName(phys, 'we--ird').name;
    const c1 = await conn.consumer(dest, { group: 'g1' });
    const c2 = await conn.consumer(dest, { group: 'we--ird' });
    await c1.close();
    await c2.close();
    // A group queue whose subscription is gone (what an older version's deleteDestination left).
    await sqs.send(new CreateQueueCommand({ QueueName: `${t}--orphan` }));

    const listed = await conn.admin.listObjects(dest);
    expect(listed.filter((o) => o.type === 'topic')).toEqual([{ type: 'topic', name: t }]);
    expect(listed.filter((o) => o.type === 'subscription').map((o) => o.group ?? '?').sort()).toEqual(['?', 'g1']);
    expect(listed.filter((o) => o.type === 'queue')).toEqual(
      expect.arrayContaining([
        { type: 'queue', name: plain, group: 'g1' },
        { type: 'queue', name: hashed },
        { type: 'queue', name: `${t}--orphan`, group: 'orphan' },
      ]),
    );

    await conn.admin.deleteGroup(dest, 'g1');
    expect(await queueExists(plain)).toBe(false);
    const arn = await topicArn(t);
    const subs = (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: arn! }))).Subscriptions ?? [];
    expect(subs.map((s) => s.Endpoint?.split(':').pop())).toEqual([hashed]);
    await conn.admin.deleteGroup(dest, 'g1'); // idempotent

    await conn.admin.deleteDestination(dest);
    expect(await queueExists(hashed)).toBe(false);
    expect(await queueExists(`${t}--orphan`)).toBe(false);
    expect(await topicArn(t)).toBeUndefined();
    expect(await conn.admin.listObjects(dest)).toEqual([]);
    await conn.admin.deleteDestination(dest); // absent is fine
  });

  it('admin - a queue lists itself; deleteGroup on a queue deletes nothing (its consumers share the queue)', async () => {
    const q = `adm-${suffix()}`;
    await conn.admin.ensureDestination(q);
    expect(await conn.admin.listObjects(q)).toEqual([{ type: 'queue', name: q }]);
    await conn.admin.deleteGroup(q, 'any');
    expect(await queueExists(q)).toBe(true);
    await conn.admin.deleteDestination(q);
    expect(await conn.admin.listObjects(q)).toEqual([]);
  });

  it('admin - deleting topic "a" leaves the groups of topic "a-" and "a--b" alone', async () => {
    const a = `adm-${suffix()}`;
    const others = [`${a}-`, `${a}--b`];
    for (const t of others) await (await conn.consumer(`topic:${t}`, { group: 'g', deadLetter: `${a}-dlq` })).close();
    await (await conn.consumer(`topic:${a}`, { group: 'g' })).close();
    await conn.admin.deleteDestination(`topic:${a}`);
    expect(await queueExists(`${a}--g`)).toBe(false);
    for (const t of others) {
      expect(await queueExists(groupQueueName(physicalName(t), 'g').name)).toBe(true);
      await conn.admin.deleteDestination(`topic:${t}`);
      expect(await queueExists(groupQueueName(physicalName(t), 'g').name)).toBe(false);
    }
  });
});
