// The testcontainers fallback: one container per broker, started on first use in a test file and
// stopped by stopContainers() (describeWithBroker calls it in afterAll). testcontainers is imported
// lazily, so runs against SWITCHBOARD_TEST_*_URL brokers never load it.
// Set TESTCONTAINERS_REUSE_ENABLE=true to keep and reuse the containers across runs (testcontainers'
// own switch; they are then left running after the tests).
import net from 'node:net';
import type { StartedTestContainer } from 'testcontainers';
import type { BrokerName } from './brokers';
import { IMAGES } from './images';

const started: StartedTestContainer[] = [];

/** A free TCP port on the loopback address (Kafka must advertise the host port it is reached on). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startBrokerContainer(name: BrokerName): Promise<string> {
  const { GenericContainer, Wait } = await import('testcontainers');
  let container: StartedTestContainer;
  switch (name) {
    case 'kafka': {
      const hostPort = await freePort();
      // Clients use PLAINTEXT, advertised as the host port; the broker talks to itself on BROKER.
      container = await new GenericContainer(IMAGES.kafka)
        .withExposedPorts({ container: 9092, host: hostPort })
        .withEnvironment({
          KAFKA_NODE_ID: '1',
          KAFKA_PROCESS_ROLES: 'broker,controller',
          KAFKA_LISTENERS: 'PLAINTEXT://:9092,BROKER://:19092,CONTROLLER://:9093',
          KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${hostPort},BROKER://localhost:19092`,
          KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT',
          KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
          KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
          KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
          KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
          KAFKA_NUM_PARTITIONS: '1',
          KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
          KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
          KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        })
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
        .withStartupTimeout(180_000)
        .withReuse()
        .start();
      started.push(container);
      return `kafka://127.0.0.1:${container.getMappedPort(9092)}`;
    }
    case 'rabbitmq':
      // The official image lets guest log in from any address (loopback_users.guest = false).
      container = await new GenericContainer(IMAGES.rabbitmq)
        .withExposedPorts(5672)
        .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
        .withStartupTimeout(180_000)
        .withReuse()
        .start();
      started.push(container);
      return `amqp://guest:guest@${container.getHost()}:${container.getMappedPort(5672)}`;
    case 'nats':
      container = await new GenericContainer(IMAGES.nats)
        .withCommand(['-js', '-sd', '/data', '-m', '8222'])
        .withExposedPorts(4222, 8222)
        .withWaitStrategy(Wait.forHttp('/healthz?js-enabled-only=true', 8222).forStatusCode(200))
        .withStartupTimeout(120_000)
        .withReuse()
        .start();
      started.push(container);
      return `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
    case 'sqs':
      container = await new GenericContainer(IMAGES.sqs)
        .withEnvironment({ FAUXQS_LOGGER: 'false' })
        .withExposedPorts(4566)
        .withWaitStrategy(Wait.forHttp('/health', 4566).forStatusCode(200))
        .withStartupTimeout(120_000)
        .withReuse()
        .start();
      started.push(container);
      return `sqs+http://${container.getHost()}:${container.getMappedPort(4566)}?region=us-east-1`;
    case 'redis':
      // AOF on, as scripts/brokers runs it.
      container = await new GenericContainer(IMAGES.redis)
        .withCommand(['redis-server', '--appendonly', 'yes', '--save', ''])
        .withExposedPorts(6379)
        .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
        .withStartupTimeout(60_000)
        .withReuse()
        .start();
      started.push(container);
      return `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  }
}

export async function stopContainers(): Promise<void> {
  if (process.env.TESTCONTAINERS_REUSE_ENABLE === 'true') return;
  const all = started.splice(0);
  await Promise.all(all.map((c) => c.stop()));
}
