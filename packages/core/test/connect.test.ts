import { connect, registerDriver, type Connection } from '@switchboard/core';

describe('connect', () => {
  test('connect - an unknown scheme is a configuration error naming the known ones', async () => {
    await expect(connect('bogus://x')).rejects.toMatchObject({ code: 'configuration', message: expect.stringContaining('kafka://') });
  });

  test('connect - dispatches on the scheme to a registered driver', async () => {
    const fake = { backend: 'fake' } as unknown as Connection;
    registerDriver({ name: 'fake', schemes: ['fake'], connect: async (url) => ({ ...fake, url: url.redacted }) as Connection });
    await expect(connect('fake://u:secret@h:1')).resolves.toMatchObject({ backend: 'fake', url: 'fake://u:***@h:1' });
  });

  test('connect - a known scheme whose package is missing says what to install', async () => {
    await expect(connect('kafka+nothing://x').catch((e) => e)).resolves.toMatchObject({ code: 'configuration' });
  });
});
