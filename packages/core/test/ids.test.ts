import { newId } from '../src/ids';

describe('ids', () => {
  test('ids - newId gives version 4 UUIDs in the lowercase 36-character form, none repeated over several refills of its pool', () => {
    const seen = new Set<string>();
    const form = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (let i = 0; i < 5000; i++) {
      const id = newId();
      expect(id).toMatch(form);
      seen.add(id);
    }
    expect(seen.size).toBe(5000);
  });

  test('ids - every hex digit turns up in every random position', () => {
    const digits = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) [...newId()].forEach((c, at) => digits[at]!.add(c));
    for (const at of [0, 7, 9, 12, 15, 20, 24, 35]) expect(digits[at]!.size).toBe(16);
    expect([...digits[14]!]).toEqual(['4']);
    expect([...digits[19]!].sort()).toEqual(['8', '9', 'a', 'b']);
  });
});
