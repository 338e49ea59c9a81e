import { expect, test } from '@jupyterlab/galata';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  openInFileBrowser,
  readWorkspaceFile,
  runToEnd,
  savedFolder
} from './helpers';

/**
 * A Binder user's big upload, under Binder's smallest memory limit: scripts/binder-check.sh runs
 * this file (beside binder.spec.ts) only in its run of 1024 MiB or less (the test command's
 * --userns-refused --memory 1024), where a whole body held in JupyterLab's memory would show.
 * About 50 s.
 */
const EXAMPLES = 'examples';
/** The size of the big input a user uploads: 200 blocks of 1 MiB. */
const BIG_BLOCKS = 200;
const BLOCK = 2 ** 20;

/**
 * Writes a BIG_BLOCKS MiB text file for shell-pipeline (words of letters only count) block by
 * block, never whole in memory: random digits, spaces and newlines, then one `word` at the end
 * of each block, and `last` at the very end. Its top words are then `word BIG_BLOCKS` and `last 1`
 * only if the run read every byte of this very file.
 */
function writeBigInput(file: string, word: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (let i = 0; i < BIG_BLOCKS; i++) {
      const block = crypto.randomBytes(BLOCK);
      for (let j = 0; j < BLOCK; j++) {
        const r = block[j] % 12;
        block[j] = r < 10 ? 0x30 + r : r === 10 ? 0x20 : 0x0a;
      }
      const tail = `\n${word}${i === BIG_BLOCKS - 1 ? ' last' : ''}\n`;
      block.write(tail, BLOCK - tail.length, 'latin1');
      fs.writeSync(fd, block);
    }
  } finally {
    fs.closeSync(fd);
  }
}

test.describe('ReproServer under Binder constraints, a big upload', () => {
  test.setTimeout(600000);

  test('a 200 MiB input from the computer goes to the workspace in chunks, not through the proxy', async ({
    page,
    baseURL
  }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reproserver-big-'));
    // Letters only: shell-pipeline counts words of letters.
    const word = `upload${crypto
      .randomBytes(8)
      .toString('hex')
      .replace(/[0-9]/g, d => 'ghijklmnop'[Number(d)])}`;
    const file = path.join(dir, 'big-words.txt');
    try {
      writeBigInput(file, word);
      const size = fs.statSync(file).size;
      expect(size).toBe(BIG_BLOCKS * BLOCK);

      // The bytes must go to JupyterLab's contents API in chunks, never to the companion server
      // (through jupyter-server-proxy, which holds a whole body in JupyterLab's memory).
      const proxiedBodies: number[] = [];
      const contentsBodies: number[] = [];
      page.on('request', request => {
        const length = request.postDataBuffer()?.length ?? 0;
        const url = new URL(request.url());
        if (url.pathname.startsWith('/reproserver/')) {
          proxiedBodies.push(length);
        } else if (url.pathname.startsWith('/api/contents/')) {
          contentsBodies.push(length);
        }
      });

      const panel = await openInFileBrowser(
        page,
        EXAMPLES,
        'shell-pipeline.rpz'
      );
      await panel.getByRole('tab', { name: 'Inputs' }).click();
      const slot = panel.locator('[data-input="arg2"]');
      const started = Date.now();
      // A path: Chromium reads the file itself, as from the user's disk.
      await slot.locator('input[type="file"]').setInputFiles(file);
      const uploaded = `${EXAMPLES}/reproserver-uploads/big-words.txt`;
      await expect(slot).toContainText(`Replaced by ${uploaded}`, {
        timeout: 300000
      });
      console.log(
        `binder: uploaded ${size} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s, ${contentsBodies.length} requests to /api/contents, largest body ${Math.max(...contentsBodies)} bytes`
      );
      // Chunks of 1 MiB (base64 and JSON: 4/3 of it and a little more), hence one per MiB.
      expect(contentsBodies.length).toBeGreaterThanOrEqual(BIG_BLOCKS);
      expect(Math.max(...contentsBodies)).toBeLessThan(1.5 * BLOCK);
      const stat = await page.request.get(
        `${baseURL}/api/contents/${EXAMPLES}/reproserver-uploads/big-words.txt?content=0`
      );
      expect(stat.status()).toBe(200);
      expect((await stat.json()).size).toBe(size);

      // The user sees it in the file browser.
      await page.filebrowser.openDirectory(`${EXAMPLES}/reproserver-uploads`);
      await expect(
        page
          .getByRole('region', { name: 'File Browser Section' })
          .getByRole('listitem', { name: /^Name: big-words\.txt/ })
      ).toBeVisible();

      // The run reads it by path: every block's word counted, and the last one.
      await page.getByRole('tab', { name: /shell-pipeline\.rpz/ }).click();
      expect(await runToEnd(panel)).toBe('Succeeded');
      const expected = `${word} ${BIG_BLOCKS}\nlast 1\n`;
      await expect(panel.locator('pre.jp-ReproServer-log')).toContainText(
        expected.trim()
      );
      const folder = await savedFolder(panel);
      expect(
        await readWorkspaceFile(page, baseURL, `${folder}/top-words.txt`)
      ).toBe(expected);
      expect(Math.max(0, ...proxiedBodies)).toBeLessThan(64 * 1024);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
