import { SwitchboardError } from '@switchboard/core';
import { outcomes } from '../src/context';

// Counts the SwitchboardErrors the adapter makes (the same class, one counter more).
let made = 0;
jest.mock('@switchboard/core', () => {
  const actual = jest.requireActual<typeof import('@switchboard/core')>('@switchboard/core');
  class Counted extends actual.SwitchboardError {
    constructor(...args: ConstructorParameters<typeof actual.SwitchboardError>) {
      super(...args);
      made++;
    }
  }
  return { ...actual, SwitchboardError: Counted };
});

describe('outcomes - per-entry results of a batch call', () => {
  it('outcomes - every entry keeps its own result; one the response left out fails with internal', () => {
    const r = outcomes(3, [{ Id: '0', MessageId: 'a' }], [{ Id: '2', Code: 'InvalidParameterValue', Message: 'bad', SenderFault: true }], 'sending');
    expect(r[0]).toEqual({ ok: true, value: 'a' });
    expect(r[1]).toMatchObject({ ok: false, error: expect.objectContaining({ code: 'internal', message: expect.stringContaining('no result for this entry') }) });
    expect(r[2]).toMatchObject({ ok: false });
    expect((r[2] as { error: unknown }).error).toBeInstanceOf(SwitchboardError);
  });

  it('outcomes - a batch that fully succeeded makes no error objects (an Error per entry was 4 % of a busy consumer)', () => {
    const before = made;
    const r = outcomes(10, Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageId: `m${i}` })), [], 'sending');
    expect(r.every((o) => o.ok)).toBe(true);
    expect(made - before).toBe(0);
    // The counter does see an error being made, so the check above can fail.
    outcomes(1, [], [], 'sending');
    expect(made - before).toBe(1);
  });
});
