/**
 * Every backend the examples document, as drivers to hand to `connect(url, { drivers: DRIVERS })`.
 * Registration is explicit: nothing is looked up by package name at run time, so the examples
 * depend on exactly these adapters (examples/package.json) and also run inside a bundle.
 *
 *   memory://                                    @switchboard/memory
 *   kafka://127.0.0.1:9092                       @switchboard/kafka
 *   amqp://guest:guest@127.0.0.1:5672            @switchboard/rabbitmq
 *   sqs+http://127.0.0.1:4566?region=us-east-1   @switchboard/sqs
 *   nats://127.0.0.1:4222                        @switchboard/nats
 */
import type { Driver } from '@switchboard/core';
import { driver as kafka } from '@switchboard/kafka';
import { driver as memory } from '@switchboard/memory';
import { driver as nats } from '@switchboard/nats';
import { driver as rabbitmq } from '@switchboard/rabbitmq';
import { driver as sqs } from '@switchboard/sqs';

export const DRIVERS: readonly Driver[] = [memory, kafka, rabbitmq, sqs, nats];
