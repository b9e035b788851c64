import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseUrl, SwitchboardError } from '@switchboard/core';
import { KAFKA_DEFAULTS, resolveKafkaOptions } from '@switchboard/kafka';

describe('options - kafka:// URL and connect options', () => {
  test('defaults are resolved in one place', () => {
    const o = resolveKafkaOptions(parseUrl('kafka://127.0.0.1:9092,other:9093'));
    expect(o.brokers).toEqual(['127.0.0.1:9092', 'other:9093']);
    expect(o.partitions).toBe(KAFKA_DEFAULTS.partitions);
    expect(o.maxMessageBytes).toBe(1_048_576);
    expect(o.sasl).toBeUndefined();
  });
  test('query parameters are coerced; code options win', () => {
    const o = resolveKafkaOptions(parseUrl('kafka://h:1?partitions=5&clientId=x&ssl=true'), { partitions: 7 });
    expect(o.partitions).toBe(7);
    expect(o.clientId).toBe('x');
    expect(o.ssl).toBe(true);
  });
  test('options - ca, cert and key in the URL are PEM files read into TLS options; code ssl wins; ssl=false with them is a configuration error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-kafka-tls-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      fs.writeFileSync(ca, 'CA PEM');
      expect(resolveKafkaOptions(parseUrl(`kafka://h:1?ca=${ca}`)).ssl).toEqual({ ca: 'CA PEM' });
      expect(resolveKafkaOptions(parseUrl(`kafka://h:1?ssl=true&ca=${ca}`), { ssl: { servername: 'x' } }).ssl).toEqual({ servername: 'x' });
      expect(() => resolveKafkaOptions(parseUrl(`kafka://h:1?ssl=false&ca=${ca}`))).toThrow(/ssl=false/);
      expect(() => resolveKafkaOptions(parseUrl(`kafka://h:1?ca=${path.join(dir, 'nope.pem')}`))).toThrow(/ca: cannot read the file .*nope\.pem \(ENOENT\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test('a default port is added', () => {
    expect(resolveKafkaOptions(parseUrl('kafka://broker')).brokers).toEqual(['broker:9092']);
  });
  test('user info turns on SASL', () => {
    const o = resolveKafkaOptions(parseUrl('kafka://alice:s3cret@h:9092?sasl=scram-sha-256'));
    expect(o.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'alice', password: 's3cret' });
  });
  test('every problem is listed at once, without the password', () => {
    let err: unknown;
    try {
      resolveKafkaOptions(parseUrl('kafka://alice:s3cret@h:9092?partitions=0&bogus=1&sasl=md5'));
    } catch (e) {
      err = e;
    }
    expect(SwitchboardError.is(err, 'configuration')).toBe(true);
    const problems = (err as SwitchboardError).details.problems as string[];
    expect(problems.length).toBeGreaterThanOrEqual(3);
    expect((err as Error).message).not.toContain('s3cret');
  });
  test('no broker is a configuration error', () => {
    expect(() => resolveKafkaOptions(undefined, {})).toThrow(/no broker/);
  });
  test('connectVia=bootstrap needs exactly one broker', () => {
    expect(resolveKafkaOptions(parseUrl('kafka://h:1?connectVia=bootstrap')).connectVia).toBe('bootstrap');
    expect(() => resolveKafkaOptions(parseUrl('kafka://h:1,g:2?connectVia=bootstrap'))).toThrow(/exactly one/);
  });
  test('options - a group member retries through a broker restart (about 5 min, at most 1 s apart) instead of rejoining as a new member', () => {
    const { consumerConfig, CONSUMER_RETRY } = jest.requireActual('../src/options') as typeof import('../src/options');
    const retry = consumerConfig(resolveKafkaOptions(parseUrl('kafka://h:1')), 'g').retry!;
    expect(retry).toBe(CONSUMER_RETRY);
    expect(retry.maxRetryTime).toBeLessThanOrEqual(1000);
    // kafkajs restarts a consumer whose retries ran out as a new member; a restart here takes up to 3 min
    expect(retry.retries! * retry.maxRetryTime!).toBeGreaterThanOrEqual(240_000);
  });
});

