import { parseUrl, redactUrl, SwitchboardError } from '@switchboard/core';

describe('url', () => {
  test('url - parses scheme, credentials, several hosts, path and query', () => {
    const u = parseUrl('amqp://guest:s%40cret@rabbit-1:5672,rabbit-2/vhost?heartbeat=10');
    expect(u).toMatchObject({ scheme: 'amqp', username: 'guest', password: 's@cret', path: 'vhost', params: { heartbeat: '10' } });
    expect(u.hosts).toEqual([{ host: 'rabbit-1', port: 5672 }, { host: 'rabbit-2', port: undefined }]);
  });

  test('url - memory:// has no hosts', () => {
    expect(parseUrl('memory://')).toMatchObject({ scheme: 'memory', hosts: [], path: '' });
  });

  test('url - compound schemes and IPv6 hosts', () => {
    expect(parseUrl('sqs+http://127.0.0.1:4566?region=us-east-1')).toMatchObject({ scheme: 'sqs+http', params: { region: 'us-east-1' } });
    expect(parseUrl('nats://[::1]:4222').hosts).toEqual([{ host: '::1', port: 4222 }]);
  });

  test('url - every problem is reported at once and the password never appears', () => {
    let err: unknown;
    try {
      parseUrl('kafka://user:hunter2@good:9092,bad host:99999,:0?a=1&a=2');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SwitchboardError);
    const e = err as SwitchboardError;
    expect(e.code).toBe('configuration');
    expect((e.details.problems as string[]).length).toBeGreaterThanOrEqual(3);
    expect(e.message).not.toContain('hunter2');
  });

  test('url - a URL without a scheme is a configuration error', () => {
    expect(() => parseUrl('localhost:9092')).toThrow(expect.objectContaining({ code: 'configuration' }));
    expect(() => parseUrl('')).toThrow(expect.objectContaining({ code: 'configuration' }));
  });

  test('url - redaction hides passwords and secret query values', () => {
    expect(redactUrl('amqp://guest:guest@h:5672/')).toBe('amqp://guest:***@h:5672/');
    expect(redactUrl('sqs://us-east-1?secretAccessKey=abc&region=x')).toBe('sqs://us-east-1?secretAccessKey=***&region=x');
    expect(redactUrl('kafka://h:9092')).toBe('kafka://h:9092');
  });
});
