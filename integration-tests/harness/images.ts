// The container images the testcontainers fallback starts: the same pins as docker-compose.yml at the
// repo root, and the same versions scripts/brokers runs natively where one exists (see docs/brokers.md).
export const IMAGES = {
  kafka: 'apache/kafka:4.4.0',
  rabbitmq: 'rabbitmq:4.1.4-management',
  nats: 'nats:2.12.15-alpine',
  sqs: 'kibertoad/fauxqs:2.4.1',
  redis: 'redis:7.0.15-alpine',
} as const;
