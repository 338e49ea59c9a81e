/**
 * `reproserver inspect` reads in its own process, under the server's deadline: a read that does
 * not end is refused with `read-timeout`, and the command leaves without waiting for it. The
 * reader is replaced by one that never answers (a stalled disk, a parser that went wrong).
 */
jest.mock('../../../src/rpz/package', () => ({
  readPackage: () => new Promise(() => undefined)
}));

import { inspectCommand } from '../../../src/cli/inspect';
import { tempFolder } from '../../helpers/synthetic-rpz';

describe('reproserver inspect under a deadline', () => {
  const saved = process.env.REPROSERVER_READ_TIMEOUT_SECONDS;
  let folder: ReturnType<typeof tempFolder>;
  beforeEach(() => {
    folder = tempFolder();
    process.env.REPROSERVER_READ_TIMEOUT_SECONDS = '1';
  });
  afterEach(() => {
    folder.cleanup();
    if (saved === undefined) {
      delete process.env.REPROSERVER_READ_TIMEOUT_SECONDS;
    } else {
      process.env.REPROSERVER_READ_TIMEOUT_SECONDS = saved;
    }
  });

  it('refuses a read that passes the deadline, names the setting, and exits', async () => {
    const exit = jest
      .spyOn(process, 'exit')
      .mockImplementation((() => undefined) as never);
    const path = folder.write(
      'slow.rpz',
      Buffer.from('whatever: the reader never answers')
    );
    let err = '';
    const started = Date.now();
    const code = await inspectCommand([path], {
      stdout: { write: () => true },
      stderr: { write: (s: string) => ((err += s), true) }
    });
    expect(code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(err).toBe(
      `Reading the package took longer than 1 s (the read timeout, REPROSERVER_READ_TIMEOUT_SECONDS); it is refused (slow.rpz)\n`
    );
    await new Promise(resolve => setTimeout(resolve, 20));
    expect(exit).toHaveBeenCalledWith(1);
    exit.mockRestore();
  });
});
