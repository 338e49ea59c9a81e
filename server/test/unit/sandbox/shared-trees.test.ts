import { readOnlyMounts } from '../../../src/sandbox/mounts';
import { sharedMode } from '../../../src/sandbox/share-tree';

describe('shared trees', () => {
  it.each([
    [0o4755, 0o777], // setuid removed; everyone gets the owner's rwx
    [0o2750, 0o777],
    [0o1777, 0o1777], // sticky kept
    [0o640, 0o666],
    [0o400, 0o444],
    [0o000, 0o000]
  ])('mode %o becomes %o', (mode, shared) => {
    expect(sharedMode(mode).toString(8)).toBe(shared.toString(8));
  });

  it('reads which mounts are read-only, the last mount over a point winning', () => {
    const table = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '40 22 8:1 /srv/trees /mnt/class\\040trees ro,relatime shared:1 - ext4 /dev/sda1 rw',
      '41 22 0:5 / /tmp rw - tmpfs tmpfs rw',
      '42 41 0:6 / /tmp ro - tmpfs tmpfs rw',
      'garbage'
    ].join('\n');
    expect([...readOnlyMounts(table)]).toEqual([
      ['/', false],
      ['/mnt/class trees', true],
      ['/tmp', true]
    ]);
  });
});
