import { expect, test } from '@jupyterlab/galata';
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
