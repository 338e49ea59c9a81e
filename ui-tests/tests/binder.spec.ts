import { expect, test } from '@jupyterlab/galata';
import {
  openInFileBrowser,
  readWorkspaceFile,
  runTopTwoWords,
  savedFolder,
  topTwoWords,
  waitForEnd,
  waitForPanel
} from './helpers';

/**
 * What a Binder user does, under Binder's constraints (scripts/binder-check.sh sets them up and
 * runs this with playwright.binder.config.js): JupyterLab and the companion server come from the
 * installed wheel alone, run by a non-root user with no Docker, in 2 GiB of memory. The example
 * packages are in `examples/` of the home folder, as on Binder; experiments run in the sandbox.
 */
const EXAMPLES = 'examples';

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
