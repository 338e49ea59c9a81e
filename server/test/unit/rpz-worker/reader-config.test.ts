/** The reader's limits as the server and the CLI take them: flags over environment over defaults. */
import { join } from 'node:path';
import { loadConfig } from '../../../src/config';
import { READER_DEFAULTS, readerOptionsOf } from '../../../src/rpz/worker';

describe('reader limits in the configuration', () => {
  it('defaults to 60 s, 256 MiB, 2 reader processes and a 120 s stall timeout, scratch in the state folder', () => {
    const config = loadConfig({ state: '/srv/state' }, {});
    expect(READER_DEFAULTS).toEqual({
      timeoutSeconds: 60,
      memoryMib: 256,
      processes: 2,
      stallSeconds: 120
    });
    expect(readerOptionsOf(config)).toEqual({
      timeoutSeconds: 60,
      memoryMib: 256,
      processes: 2,
      stallSeconds: 120,
      scratchDir: join('/srv/state', 'scratch')
    });
  });

  it('takes the environment, and flags over it', () => {
    const env = {
      REPROSERVER_READ_TIMEOUT_SECONDS: '5',
      REPROSERVER_READ_MEMORY_MIB: '64',
      REPROSERVER_READ_PROCESSES: '1',
      REPROSERVER_READ_STALL_SECONDS: '9'
    };
    expect(loadConfig({}, env)).toMatchObject({
      readTimeoutSeconds: 5,
      readMemoryMib: 64,
      readProcesses: 1,
      readStallSeconds: 9
    });
    expect(
      loadConfig(
        {
          'read-timeout-seconds': '7',
          'read-memory-mib': '128',
          'read-processes': '3'
        },
        env
      )
    ).toMatchObject({
      readTimeoutSeconds: 7,
      readMemoryMib: 128,
      readProcesses: 3
    });
  });

  it.each([
    ['read-timeout-seconds', '0'],
    ['read-memory-mib', '1.5'],
    ['read-processes', 'two'],
    ['read-stall-seconds', '-1']
  ])('refuses --%s %s with a sentence', (flag, value) => {
    expect(() => loadConfig({ [flag]: value }, {})).toThrow(
      `Invalid --${flag} "${value}": give a whole number of at least 1.`
    );
  });
});
