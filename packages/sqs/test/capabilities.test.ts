import { SQS_CAPABILITIES, SQS_ENDPOINT_CAPABILITIES, SQS_ENDPOINT_FIFO_CAPABILITIES, sqsCapabilities } from '@switchboard/sqs';

describe('capabilities - tables per endpoint and mode', () => {
  it('declares no authentication against custom endpoints (emulators accept any credentials)', () => {
    expect(SQS_CAPABILITIES.authentication.level).toBe('native');
    expect(SQS_ENDPOINT_CAPABILITIES.authentication.level).toBe('none');
  });

  it('declares per-key order and broker dedup only in FIFO mode', () => {
    expect(sqsCapabilities(true).orderingPerKey.level).toBe('none');
    expect(sqsCapabilities(true).dedup.level).toBe('emulated');
    expect(sqsCapabilities(true, true)).toBe(SQS_ENDPOINT_FIFO_CAPABILITIES);
    expect(SQS_ENDPOINT_FIFO_CAPABILITIES.orderingPerKey.level).toBe('native');
    expect(SQS_ENDPOINT_FIFO_CAPABILITIES.dedup.level).toBe('native');
    expect(SQS_ENDPOINT_FIFO_CAPABILITIES.orderingTotal.level).toBe('none');
  });

  it('never declares replay: consumption is destructive', () => {
    for (const t of [SQS_CAPABILITIES, SQS_ENDPOINT_FIFO_CAPABILITIES]) {
      expect(t.replay.level).toBe('none');
      expect(t.replayFromPosition.level).toBe('none');
      expect(t.committedPosition.level).toBe('none');
    }
  });
});
