import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { describeWithBroker } from '../harness';

async function roundTrip(url: string, queueArgs: Record<string, unknown>): Promise<string> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const queue = `smoke-${randomUUID()}`;
    try {
      await channel.assertQueue(queue, { durable: true, arguments: queueArgs });
      channel.sendToQueue(queue, Buffer.from('hello rabbitmq'), { persistent: true });
      const body = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message within 15s')), 15_000);
        void channel.consume(queue, (msg) => {
          if (!msg) return;
          clearTimeout(timer);
          channel.ack(msg);
          resolve(msg.content.toString());
        });
      });
      return body;
    } finally {
      await channel.deleteQueue(queue);
      await channel.close();
    }
  } finally {
    await connection.close();
  }
}

describeWithBroker('rabbitmq', (broker) => {
  it('rabbitmq smoke - one message published and consumed with amqplib', async () => {
    expect(await roundTrip(broker.url(), {})).toBe('hello rabbitmq');
  });

  it('rabbitmq smoke - a quorum queue is declared and delivers one message', async () => {
    expect(await roundTrip(broker.url(), { 'x-queue-type': 'quorum' })).toBe('hello rabbitmq');
  });

  // What @switchboard/rabbitmq's header check rests on (issue 11, defect 6b): amqplib encodes headers
  // into a 64 KiB buffer and refuses more from inside publish, before writing anything, and the
  // frame_max it negotiates is 131072. An upgrade that changes either shows up here first.
  it('rabbitmq smoke - amqplib refuses a header table over 64 KiB before sending; the channel stays usable', async () => {
    const connection = await amqp.connect(broker.url());
    try {
      expect((connection.connection as unknown as { frameMax: number }).frameMax).toBe(131072);
      const channel = await connection.createConfirmChannel();
      const queue = `smoke-${randomUUID()}`;
      await channel.assertQueue(queue, { durable: false, autoDelete: false });
      // 4 (table length) + 1 + 1 ("h") + 1 + 4 + value = 65536 exactly at the limit.
      const at = 'v'.repeat(65536 - 11);
      expect(() => channel.publish('', queue, Buffer.from('over'), { headers: { h: `${at}v` } })).toThrow(/65536 byte encoding buffer/);
      await new Promise<void>((resolve, reject) => channel.publish('', queue, Buffer.from('at'), { headers: { h: at } }, (err) => (err ? reject(err) : resolve())));
      const got = await channel.get(queue, { noAck: true });
      expect(got && got.content.toString()).toBe('at');
      expect(got && (got.properties.headers?.h as Buffer | string).toString().length).toBe(at.length);
      expect(await channel.get(queue, { noAck: true })).toBe(false);
      await channel.deleteQueue(queue);
      await channel.close();
    } finally {
      await connection.close();
    }
  });

  // The adapter's declarations fall back to a passive declare on this answer, so a queue made quorum
  // by its operator, or a stream with another retention, is used as it is.
  it('rabbitmq smoke - redeclaring a queue with other arguments is 406 PRECONDITION_FAILED "inequivalent arg"', async () => {
    const connection = await amqp.connect(broker.url());
    connection.on('error', () => undefined);
    try {
      const queue = `smoke-${randomUUID()}`;
      const first = await connection.createChannel();
      await first.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      const second = await connection.createChannel();
      second.on('error', () => undefined);
      await expect(second.assertQueue(queue, { durable: true })).rejects.toThrow(/406 \(PRECONDITION-FAILED\).*inequivalent arg 'x-queue-type'/);
      expect((await first.checkQueue(queue)).queue).toBe(queue);
      await first.deleteQueue(queue);
      await first.close();
    } finally {
      await connection.close();
    }
  });
  // What the adapter's retention-stream binding rests on (packages/rabbitmq README, Wire format): a void
  // binding value on a headers exchange matches the header's presence, and unbinding a binding that
  // is not there is no error. The stream takes only the marked message here, so a decimal header
  // (which RabbitMQ 3.10 streams cannot convert: 541 INTERNAL_ERROR closes the publisher's connection)
  // keeps its confirm.
  it('rabbitmq smoke - a void binding value matches presence: a stream bound with sb-ts: void takes only marked messages, and a decimal header elsewhere keeps its confirm', async () => {
    const connection = await amqp.connect(broker.url());
    let failure: Error | undefined;
    connection.on('error', (e: Error) => (failure = e));
    const x = `smoke-x-${randomUUID()}`;
    const s = `smoke-s-${randomUUID()}`;
    try {
      const ch = await connection.createConfirmChannel();
      await ch.assertExchange(x, 'headers', { durable: false });
      await ch.assertQueue(s, { durable: true, arguments: { 'x-queue-type': 'stream' } });
      await ch.bindQueue(s, x, '', { 'x-match': 'all', 'sb-ts': null });
      await ch.unbindQueue(s, x, '', { 'x-match': 'all' });
      const publish = (body: string, headers: Record<string, unknown>) =>
        new Promise<void>((resolve, reject) => ch.publish(x, '', Buffer.from(body), { headers }, (err: unknown) => (err ? reject(err) : resolve())));
      await publish('decimal', { price: { '!': 'decimal', value: { places: 1, digits: 15 } } });
      await publish('marked', { 'sb-ts': String(Date.now()) });
      await publish('plain', { a: 'b' });
      const reader = await connection.createChannel();
      await reader.prefetch(10);
      const got: string[] = [];
      await reader.consume(s, (m) => {
        if (!m) return;
        got.push(m.content.toString());
        reader.ack(m);
      }, { arguments: { 'x-stream-offset': 'first' } });
      for (const deadline = Date.now() + 5000; got.length < 1 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual(['marked']);
      expect(failure).toBeUndefined();
      await reader.close();
      await ch.deleteQueue(s);
      await ch.deleteExchange(x);
    } finally {
      await connection.close().catch(() => undefined);
    }
  });
});
