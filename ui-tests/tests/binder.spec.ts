import { expect, test } from '@jupyterlab/galata';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  argField,
  openInFileBrowser,
  readWorkspaceFile,
  runToEnd,
  runTopTwoWords,
  savedFolder,
  topTwoWords,
  waitForEnd,
  waitForPanel
} from './helpers';

/**
 * What a Binder user does, under Binder's constraints (scripts/binder-check.sh sets them up and
 * runs this with playwright.binder.config.js): JupyterLab and the companion server come from the
 * installed wheel alone, run by a non-root user with no Docker, in a memory cgroup of 1 or 2 GiB,
 * with user namespaces allowed or refused (then the sandbox is proot). The example packages are
 * in `examples/` of the home folder, as on Binder; experiments run in the sandbox.
 */
const EXAMPLES = 'examples';
/** The cgroup's limit (unset: the script could make none) and the default the server must offer. */
const CGROUP_MIB = Number(process.env.REPROSERVER_BINDER_MEMORY_MIB || 0);
const DEFAULT_MIB = Number(process.env.REPROSERVER_BINDER_DEFAULT_MEMORY_MIB);
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

test.describe('ReproServer under Binder constraints', () => {
  test.setTimeout(300000);

  test('the companion server offers the sandbox and no Docker', async ({
    page,
    baseURL
  }) => {
    const response = await page.request.get(
      `${baseURL}/reproserver/api/backends`
    );
    expect(response.status()).toBe(200);
    const body = await response.json();
    const byName = Object.fromEntries(
      body.backends.map((b: { name: string }) => [b.name, b])
    );
    expect(byName.docker.available).toBe(false);
    expect(byName.sandbox.available).toBe(true);
    expect(body.default).toBe('sandbox');
    console.log(`binder: ${byName.sandbox.detail}`);
  });

  test('double-click an example, change an argument, run it, get the outputs', async ({
    page,
    baseURL
  }) => {
    const expected = topTwoWords();
    const panel = await openInFileBrowser(page, EXAMPLES, 'shell-pipeline.rpz');
    // The panel names the backend the run will use: the sandbox, with its mechanism.
    const backend = panel.locator('.jp-ReproServer-backend');
    await expect(backend).toContainText(
      /Runs on sandbox: Sandbox: (bubblewrap|proot)/
    );
    console.log(`binder: the panel says "${await backend.textContent()}"`);

    await runTopTwoWords(panel);
    await expect(panel.locator('pre.jp-ReproServer-log')).toContainText(
      'top 2 words in words.txt:'
    );

    // The outputs are saved beside the package, in the user's workspace.
    const folder = await savedFolder(panel);
    expect(folder).toMatch(/^examples\/shell-pipeline(\.rpz)?\.runs\/[^/]+$/);
    expect(
      await readWorkspaceFile(page, baseURL, `${folder}/top-words.txt`)
    ).toBe(expected.outputs['top-words.txt'].text);
    await page.filebrowser.openDirectory(folder);
    await expect(
      page
        .getByRole('region', { name: 'File Browser Section' })
        .getByRole('listitem', { name: /^Name: top-words\.txt/ })
    ).toBeVisible();
  });

  test('an experiment wanting more memory than the whole cgroup is stopped by its own limit', async ({
    page,
    baseURL
  }) => {
    expect(DEFAULT_MIB).toBeGreaterThan(0);
    const panel = await openInFileBrowser(page, EXAMPLES, 'python-options.rpz');
    // The default the panel offers is the server's, which leaves room for JupyterLab.
    await expect(
      panel.getByRole('spinbutton', { name: 'Memory limit (MiB)' })
    ).toHaveValue(String(DEFAULT_MIB));
    // stats.py --bins N makes a list of N pointers, 8 N bytes, all written: 1.1 times the cgroup.
    const bins = Math.ceil(
      ((CGROUP_MIB || 2 * DEFAULT_MIB) * 1.1 * 2 ** 20) / 8
    );
    await panel.getByRole('tab', { name: 'Parameters' }).click();
    await argField(panel, 0, 9).fill(String(bins));
    expect(await runToEnd(panel)).toBe('Out of memory');
    await expect(panel).toContainText(
      `ran out of memory (limit ${DEFAULT_MIB} MiB)`
    );
    // The rest lived on (the script checks they are the same processes as before).
    expect((await page.request.get(`${baseURL}/api/status`)).status()).toBe(
      200
    );
    expect(
      (await page.request.get(`${baseURL}/reproserver/api/health`)).status()
    ).toBe(200);
  });
});

test.describe('ReproServer under Binder constraints, a big upload', () => {
  test.setTimeout(600000);

  test('a 200 MiB input from the computer goes to the workspace in chunks, not through the proxy', async ({
    page,
    baseURL
  }) => {
    // About 50 s: the test command runs it once, in its smallest cgroup (1 GiB, proot).
    test.skip(
      CGROUP_MIB === 0 || CGROUP_MIB > 1024,
      'the big upload runs in the Binder check of 1024 MiB or less (--userns-refused --memory 1024)'
    );
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

test.describe("ReproServer under Binder constraints, from the README's link", () => {
  test.setTimeout(300000);
  // The link's urlpath (lab/tree/examples/<package>) opens the package instead of the Launcher,
  // which galata waits for by default: wait for JupyterLab's splash screen to go instead.
  test.use({
    autoGoto: false,
    // Playwright reads fixture dependencies from the destructuring pattern: none here.
    waitForApplication: async ({}, use) => {
      await use(async page => {
        await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
      });
    }
  });

  test('opens a package whose log streams live', async ({ page }) => {
    await page.goto(`tree/${EXAMPLES}/slow-printer.rpz`);
    const panel = await waitForPanel(page, 60000);
    await panel.getByRole('button', { name: 'Run', exact: true }).click();
    const log = panel.locator('pre.jp-ReproServer-log');
    await expect(log).toContainText('tick 1/5', { timeout: 120000 });
    await expect(
      panel.locator('.jp-ReproServer-runHead .jp-ReproServer-badge')
    ).toHaveText('Running');
    expect(await waitForEnd(panel)).toBe('Succeeded');
    await expect(log).toContainText('done');
  });
});
