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
    page,
    tmpPath
  }) => {
    const name = 'shell-pipeline.rpz';
    await page.contents.uploadFile(
      path.join(examplesDir, name),
      `${tmpPath}/${name}`
    );
    await page.filebrowser.openDirectory(tmpPath);
    await page.filebrowser.open(name);
    const panel = page.locator('.jp-ReproServer-panel');
    await expect(panel).toBeVisible();
    await expect(panel.locator('.jp-ReproServer-title')).toHaveText(name);
    await expect(panel.locator('.jp-ReproServer-status-ok')).toContainText(
      'is running'
    );
    await expect(panel.locator('.jp-ReproServer-backends')).toContainText(
      'docker: available'
    );
  });
});
