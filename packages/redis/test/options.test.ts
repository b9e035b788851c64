import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseUrl, SwitchboardError } from '@switchboard/core';
import { resolveRedisOptions } from '../src/options';
import { driver } from '../src/index';

describe('options - URL parameters, defaults, validation', () => {
  it('options - reads query parameters, lets code options win, fills defaults', () => {
    const o = resolveRedisOptions(parseUrl('redis://h:6379?prefix=app&blockMs=500'), { blockMs: 1000 });
    expect(o).toEqual({ connectTimeoutMs: 10_000, prefix: 'app', blockMs: 1000, maxMessageBytes: 16 * 1024 * 1024, reconnectDelayMs: 250, replyTtlMs: 60_000, retentionMs: undefined });
    expect(resolveRedisOptions(parseUrl('redis://h?retentionMs=3600000')).retentionMs).toBe(3_600_000);
  });

  it('options - lists every problem in one configuration error, without the password', () => {
    let err: SwitchboardError | undefined;
    try {
      resolveRedisOptions(parseUrl('redis://u:secret@h?prefix=a:b&blockMs=x&retentionMs=0'), { nope: 1 });
    } catch (e) {
      err = e as SwitchboardError;
    }
    expect(err?.code).toBe('configuration');
    expect(err?.details?.problems).toHaveLength(4);
    expect(err?.message).not.toContain('secret');
  });

  it('options - ca, cert and key in a rediss:// URL are PEM files for TLS; code tls wins; on redis:// they are a configuration error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-redis-tls-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      fs.writeFileSync(ca, 'CA PEM');
      expect(resolveRedisOptions(parseUrl(`rediss://u:p@h:6380?ca=${ca}`)).tls).toEqual({ ca: 'CA PEM' });
      expect(resolveRedisOptions(parseUrl(`rediss://h:6380?ca=${ca}`), { tls: { servername: 'x' } }).tls).toEqual({ servername: 'x' });
      expect(resolveRedisOptions(parseUrl('rediss://h:6380')).tls).toBeUndefined();
      expect(() => resolveRedisOptions(parseUrl(`redis://h:6379?ca=${ca}`))).toThrow(/plain TCP/);
      expect(() => resolveRedisOptions(parseUrl(`rediss://h:6380?ca=${path.join(dir, 'none.pem')}`))).toThrow(/ca: cannot read the file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('driver - carries the registry entry of redis:// and rediss://', () => {
    expect(driver.name).toBe('redis');
    expect(driver.schemes).toEqual(['redis', 'rediss']);
  });
});
