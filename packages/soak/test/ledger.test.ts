import { longestGap, median, SoakLedger, soakBody, soakSeq } from '@switchboard/soak';

describe('ledger', () => {
  test('ledger - confirmed, received, duplicates and lost by id', () => {
    const l = new SoakLedger();
    const ids = [0, 1, 2, 3].map((t) => l.issue(t));
    expect(ids).toEqual([0, 1, 2, 3]);
    for (const seq of [0, 1, 2]) l.confirm(seq, 10);
    l.receive(0, 11);
    l.receive(0, 12);
    l.receive(1, 13);
    expect(l.counts()).toMatchObject({ sent: 4, confirmed: 3, unconfirmed: 1, received: 2, deliveries: 3, duplicates: 1, lost: 1, arrivedUnconfirmed: 0 });
    expect(l.lostIds()).toEqual([2]);
    expect(l.allConfirmedReceived()).toBe(false);
    l.receive(2, 14);
    expect(l.allConfirmedReceived()).toBe(true);
    expect(l.counts().lost).toBe(0);
  });

  test('ledger - a message that arrives unconfirmed is neither lost nor confirmed, and a later confirm counts once', () => {
    const l = new SoakLedger();
    l.issue(0);
    l.receive(0, 5);
    expect(l.counts()).toMatchObject({ confirmed: 0, received: 1, arrivedUnconfirmed: 1, lost: 0 });
    l.confirm(0, 6);
    l.confirm(0, 7);
    expect(l.counts()).toMatchObject({ confirmed: 1, received: 1, arrivedUnconfirmed: 0, lost: 0 });
  });

  test('ledger - foreign deliveries are counted apart, not as duplicates', () => {
    const l = new SoakLedger();
    l.issue(0);
    expect(l.receive(undefined, 1)).toBe('foreign');
    expect(l.receive(7, 2)).toBe('foreign');
    expect(l.receive(0, 3)).toBe('first');
    expect(l.receive(0, 4)).toBe('duplicate');
    expect(l.counts()).toMatchObject({ deliveries: 4, foreign: 2, duplicates: 1, received: 1 });
    expect(() => l.confirm(9, 1)).toThrow(RangeError);
  });

  test('ledger - send errors grouped by code and retryability, most frequent first', () => {
    const l = new SoakLedger();
    l.sendError('timeout', true, 't');
    l.sendError('connection', true, 'first');
    l.sendError('connection', true, 'second');
    l.sendError('connection', false);
    expect(l.sendErrors()).toEqual([
      { code: 'connection', retryable: true, count: 2, example: 'first' },
      { code: 'connection', retryable: false, count: 1, example: '' },
      { code: 'timeout', retryable: true, count: 1, example: 't' },
    ]);
  });

  test('ledger - first receipt of a message sent since a moment', () => {
    const l = new SoakLedger();
    for (const t of [0, 10, 20, 30, 40]) l.issue(t);
    l.receive(0, 5);
    l.receive(4, 45); // sent after 20, arrived first
    l.receive(2, 60);
    expect(l.firstReceiptOfSentSince(20)).toBe(45);
    expect(l.firstReceiptOfSentSince(41)).toBeUndefined();
    expect(l.sentSince(40)).toBe(true);
    expect(l.sentSince(41)).toBe(false);
  });

  test('ledger - longest gap spans the last delivery before the window to the first at or after its end', () => {
    const times = [0, 100, 200, 1200, 1300, 5000];
    expect(longestGap(times, 250, 1300, 6000)).toBe(1000);
    expect(longestGap(times, 1250, 1300, 6000)).toBe(100); // the window closes at the delivery at `to`
    expect(longestGap(times, 1310, 2000, 6000)).toBe(3700); // up to the first delivery after `to`
    expect(longestGap([0, 100], 150, 6000, 6000)).toBe(5900); // nothing after: up to the end
    expect(longestGap([], 10, 20, 50)).toBe(40);
  });

  test('ledger - median of odd and even counts', () => {
    expect(median([])).toBeUndefined();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  test('ledger - bodies carry the run token and sequence number at the given size', () => {
    const b = soakBody('tok', 42, 100);
    expect(b).toHaveLength(100);
    expect(soakSeq('tok', b)).toBe(42);
    expect(soakSeq('other', b)).toBeUndefined();
    expect(soakSeq('tok', 'soak:tok:x:')).toBeUndefined();
    expect(soakBody('tok', 7, 1)).toBe('soak:tok:7:');
  });
});
