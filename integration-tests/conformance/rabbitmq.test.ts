// The conformance catalogue against RabbitMQ (scripts/brokers' Debian RabbitMQ, or RabbitMQ 4 from
// docker-compose / testcontainers). See define.ts for where the broker comes from.
import { conformanceAgainst } from './define';
import { rabbitSuite } from './suites';

conformanceAgainst({ ...rabbitSuite, name: 'rabbitmq' });
