import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

const examplesDir =
  process.env.REPROSERVER_EXAMPLES_DIR ??
  path.resolve(__dirname, '..', '..', '.state', 'examples');

test.describe('jupyterlab-reproserver', () => {
  test('the extension is loaded in JupyterLab', async ({ page }) => {
    const plugins = await page.evaluate(() =>
      (
        window as unknown as {
          galata: { app: { hasPlugin(id: string): boolean } };
        }
      ).galata.app.hasPlugin('jupyterlab-reproserver:plugin')
    );
    expect(plugins).toBe(true);
  });

  test('the companion server answers through jupyter-server-proxy', async ({
    page,
    baseURL
  }) => {
    const response = await page.request.get(
      `${baseURL}/reproserver/api/health`
    );
    expect(response.status()).toBe(200);
    const body = await response.json();
    expect(body.status).toBe('ok');
    expect(typeof body.version).toBe('string');
  });

  test('double-clicking an .rpz opens the ReproServer panel', async ({
    page
  }) => {
    const name = 'shell-pipeline.rpz';
    // A folder that outlives the test: the companion server remembers a package's first
    // workspace path, and later runs of the same package (panel.spec.ts) build from there.
    const folder = 'reproserver-ui-packages';
    await page.contents.uploadFile(
      path.join(examplesDir, name),
      `${folder}/${name}`
    );
    await page.filebrowser.openDirectory(folder);
    await page.filebrowser.open(name);
    const panel = page.locator('.jp-ReproServer-panel');
    await expect(panel).toBeVisible();
    await expect(panel.locator('.jp-ReproServer-title')).toHaveText(name);
    // The overview: the step with its command line, the input and output files.
    await expect(panel.locator('.jp-ReproServer-cmdline')).toHaveText(
      'sh wordfreq.sh words.txt 3'
    );
    await expect(panel.locator('.jp-ReproServer-facts')).toContainText(
      'debian'
    );
    await expect(panel.locator('.jp-ReproServer-backend')).toContainText(
      'Runs on docker'
    );
    await panel.getByRole('tab', { name: 'Inputs' }).click();
    await expect(panel.locator('[data-input="arg2"]')).toContainText(
      'words.txt'
    );
    await panel.getByRole('tab', { name: 'Parameters' }).click();
    await expect(
      panel.locator(
        '[data-step="0"] .jp-ReproServer-field[data-index="3"] input'
      )
    ).toHaveValue('3');
  });

  test('the context menu opens a package; the tab comes back after a reload; commands run it', async ({
    page
  }) => {
    const name = 'shell-pipeline.rpz';
    const folder = 'reproserver-ui-packages';
    await page.contents.uploadFile(
      path.join(examplesDir, name),
      `${folder}/${name}`
    );
    await page.filebrowser.openDirectory(folder);
    await page
      .locator('.jp-DirListing-item[data-file-type="rpz"]', { hasText: name })
      .click({ button: 'right' });
    await page
      .locator('.lm-Menu-item', { hasText: 'Open in ReproServer' })
      .click();
    const panel = page.locator('.jp-ReproServer-panel');
    await expect(panel.locator('.jp-ReproServer-cmdline')).toHaveText(
      'sh wordfreq.sh words.txt 3'
    );

    // A plain browser reload (galata's own reload waits for a default layout).
    await page.evaluate(() => window.location.reload());
    await expect(
      page.locator('.jp-ReproServer-panel .jp-ReproServer-cmdline')
    ).toHaveText('sh wordfreq.sh words.txt 3', { timeout: 30000 });

    // The palette command runs the package of the current panel.
    await page.locator('.jp-ReproServer-panel').click();
    await page.keyboard.press('Control+Shift+C');
    await page.locator('#modal-command-palette input').fill('Run ReproZip');
    await page.keyboard.press('Enter');
    await expect(
      page.locator('.jp-ReproServer-runHead .jp-ReproServer-badge')
    ).toHaveText('Succeeded', { timeout: 180000 });
  });
});
