import { expect, test } from '@jupyterlab/galata';
import {
  startImportServer,
  type ImportServer
} from '../../server/test/helpers/import-server';
import { waitForPanel } from './helpers';

/**
 * "Open ReproZip Package from URL…" (File menu and command palette), against the local HTTPS
 * stand-in for the DOI resolver and Zenodo that playwright.config.js announced to JupyterLab's
 * companion server (import-service.js): a DOI whose record holds two packages, the choice, the
 * download into the folder the file browser shows, the panel; and a DOI that does not exist.
 */
test.describe('Open ReproZip package from URL', () => {
  test.setTimeout(120000);
  let remote: ImportServer;

  test.beforeAll(async () => {
    remote = await startImportServer({
      port: Number(process.env.REPROSERVER_UI_IMPORT_PORT),
      certificates: process.env.REPROSERVER_UI_IMPORT_CERTS
    });
  });

  test.afterAll(async () => {
    await remote?.close();
  });

  test('fetches a package of a record by DOI, after a choice, and opens it', async ({
    page
  }) => {
    await page.menu.clickMenuItem('File>Open ReproZip Package from URL…');
    const ask = page.locator('.jp-Dialog');
    await ask.locator('input').fill('https://doi.org/10.5281/zenodo.1002');
    await ask.locator('.jp-mod-accept').click();

    // The Zenodo record (resolved from its DOI) holds two packages: the user chooses one.
    const choose = page.locator('.jp-Dialog').filter({
      hasText: 'This record holds 2 packages'
    });
    await expect(choose).toBeVisible({ timeout: 30000 });
    await choose.locator('select').selectOption('slow-printer.rpz');
    await choose.locator('.jp-mod-accept').click();

    // The notification says where the package is (before it closes itself), then the panel opens.
    await expect(
      page.locator('.Toastify__toast').filter({
        hasText:
          /Fetched \S*slow-printer\.rpz|slow-printer\.rpz is already in the workspace/
      })
    ).toBeVisible({ timeout: 30000 });
    const panel = await waitForPanel(page);
    await expect(panel.locator('.jp-ReproServer-title')).toHaveText(
      'slow-printer.rpz'
    );
    expect(remote.requests.map(r => r.path)).toEqual(
      expect.arrayContaining([
        '/doi/api/handles/10.5281/zenodo.1002',
        '/zenodo/api/records/1002'
      ])
    );
  });

  test('says in the notification why a DOI cannot be fetched', async ({
    page
  }) => {
    await page.evaluate(async () => {
      await (
        window as unknown as {
          galata: { app: { commands: { execute(id: string): Promise<void> } } };
        }
      ).galata.app.commands.execute('apputils:activate-command-palette');
    });
    await page.locator('.lm-CommandPalette-input').fill('from URL');
    await page
      .locator('.lm-CommandPalette-item')
      .filter({ hasText: 'Open ReproZip Package from URL…' })
      .click();
    const ask = page.locator('.jp-Dialog');
    await ask.locator('input').fill('10.5281/zenodo.424242');
    await ask.locator('.jp-mod-accept').click();
    await expect(
      page
        .locator('.Toastify__toast')
        .filter({ hasText: 'The DOI 10.5281/zenodo.424242 does not exist' })
    ).toBeVisible({ timeout: 30000 });
  });
});
