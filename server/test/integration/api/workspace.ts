import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { examples } from '../../helpers/examples';

/**
 * A workspace as users have one: the example packages in a folder, an input file, and a symlink
 * that leads out of it (which the server must refuse to follow).
 */
export function makeWorkspace(): { root: string; outside: string } {
  const base = mkdtempSync(join(tmpdir(), 'reproserver-api-'));
  const root = join(base, 'workspace');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'packages'), { recursive: true });
  mkdirSync(outside);
  for (const { name, rpz } of examples()) {
    copyFileSync(rpz, join(root, 'packages', `${name}.rpz`));
  }
  writeFileSync(
    join(root, 'other words.txt'),
    'red green blue\nblue green blue\n'
  );
  writeFileSync(join(outside, 'secret.txt'), 'not yours');
  copyFileSync(
    join(root, 'packages', 'shell-pipeline.rpz'),
    join(outside, 'outside.rpz')
  );
  symlinkSync(outside, join(root, 'escape'));
  return { root, outside };
}
