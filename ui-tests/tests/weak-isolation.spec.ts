import { expect, galata, test } from '@jupyterlab/galata';
import { openPackage, runToEnd, waitForEnd } from './helpers';

/**
 * A JupyterLab of its own (the `weak-isolation` project of playwright.config.js) whose companion
 * server's sandbox is proot with its confinement turned off, as on a kernel without Landlock:
 * the server states that it isolates neither files nor network, and the panel must ask before
 * running. Everything is real: the server, proot, the package made by reprozip, the runs.
 */
test.describe('ReproServer panel on a sandbox that does not isolate', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'jupyterlab-reproserver:plugin': { backend: 'sandbox' }
    }
  });

  test('asks once per package before running, naming what the experiment can reach', async ({
    page
  }) => {
    test.setTimeout(300000);
    const runRequests: unknown[] = [];
    page.on('request', request => {
      if (
        request.method() === 'POST' &&
        /\/reproserver\/api\/runs(\?\d*)?$/.test(request.url())
      ) {
        runRequests.push(request.postDataJSON());
      }
    });
    const panel = await openPackage(page, 'shell-pipeline');
    await expect(panel.locator('.jp-ReproServer-notIsolated')).toContainText(
      'It CAN reach your files, the network'
    );
    const run = panel.getByRole('button', { name: 'Run', exact: true });

    await run.click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Run without isolation?');
    await expect(dialog.locator('li')).toHaveText([
      /read, change and delete every file your account can reach/,
      /connect to the network/,
      /see your other programs/
    ]);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(panel.locator('.jp-ReproServer-notice')).toContainText(
      'Not started'
    );
    expect(runRequests).toEqual([]);

    await run.click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Run anyway' })
      .click();
    expect(await waitForEnd(panel)).toBe('Succeeded');
    expect(runRequests).toEqual([
      expect.objectContaining({ acceptWeakIsolation: true })
    ]);

    // Accepted once for this package, kept in the browser's storage: the next run, in a new
    // panel, starts without asking.
    expect(
      await page.evaluate(() =>
        Object.keys(window.localStorage)
          .filter(key => key.includes('weak-isolation'))
          .map(key => window.localStorage.getItem(key))
      )
    ).toEqual(['files,network,processes']);
    await page.menu.clickMenuItem('File>Close All Tabs');
    const again = await openPackage(page, 'shell-pipeline');
    expect(await runToEnd(again)).toBe('Succeeded');
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    expect(runRequests).toHaveLength(2);
  });
});
