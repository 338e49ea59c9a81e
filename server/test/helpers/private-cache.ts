/**
 * Jest setup (every test file): `REPROSERVER_CACHE_DIR` points at a folder of this test run's
 * own, so that `reproserver inspect`, run in-process or as a child process, never reads or fills
 * the cache of the user running the tests. One folder per test file, removed when its worker ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const folder = mkdtempSync(join(tmpdir(), 'reproserver-test-cache-'));
process.env.REPROSERVER_CACHE_DIR = folder;
process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
