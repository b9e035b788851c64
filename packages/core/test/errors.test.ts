import { configurationError, SwitchboardError, toSwitchboardError } from '@switchboard/core';

describe('errors', () => {
  test('errors - retryable follows the code unless overridden', () => {
    expect(new SwitchboardError('connection', 'x').retryable).toBe(true);
    expect(new SwitchboardError('timeout', 'x').retryable).toBe(true);
    expect(new SwitchboardError('auth', 'x').retryable).toBe(false);
    expect(new SwitchboardError('internal', 'x', { retryable: true }).retryable).toBe(true);
  });

  test('errors - cause is kept and is() filters by code', () => {
    const cause = new Error('socket hang up');
    const err = new SwitchboardError('connection', 'lost', { cause });
    expect(err.cause).toBe(cause);
    expect(SwitchboardError.is(err, 'connection', 'timeout')).toBe(true);
    expect(SwitchboardError.is(err, 'auth')).toBe(false);
    expect(SwitchboardError.is(cause)).toBe(false);
  });

  test('errors - instanceof holds for errors made by another copy of the package', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('@switchboard/core/SwitchboardError')]: true, code: 'closed' });
    expect(foreign instanceof SwitchboardError).toBe(true);
    expect(new Error('plain') instanceof SwitchboardError).toBe(false);
  });

  test('errors - configuration errors list every problem', () => {
    const err = configurationError('options', ['a is bad', 'b is bad']);
    expect(err.message).toContain('2 problems');
    expect(err.details.problems).toEqual(['a is bad', 'b is bad']);
  });

  test('errors - unknown errors are wrapped as internal, SwitchboardErrors pass through', () => {
    const mine = new SwitchboardError('closed', 'x');
    expect(toSwitchboardError(mine)).toBe(mine);
    expect(toSwitchboardError(new TypeError('boom'))).toMatchObject({ code: 'internal', message: 'boom' });
    expect(toSwitchboardError('text', 'connection')).toMatchObject({ code: 'connection' });
  });
});
