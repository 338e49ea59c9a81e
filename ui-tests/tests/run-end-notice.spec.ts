import { expect, test } from '@jupyterlab/galata';
import { openPackage } from './helpers';

/** A run that ends while its panel is hidden says so with a JupyterLab notification. */
test.describe('ReproServer run-end notification', () => {
  test.setTimeout(300000);

  test('tells when a run ends behind another tab, and shows it on request', async ({
    page
  }) => {
    const panel = await openPackage(page, 'slow-printer');
    await panel.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(
      panel.locator('.jp-ReproServer-runHead .jp-ReproServer-badge')
    ).toBeVisible();
    // Another tab in front of the panel while the run goes on.
    await page.menu.clickMenuItem('File>New Launcher');
    await expect(panel).toBeHidden();

    const toast = page
      .locator('.Toastify__toast')
      .filter({ hasText: 'slow-printer.rpz: run' });
    await expect(toast).toContainText('ended (Succeeded)', { timeout: 180000 });
    await toast.getByRole('button', { name: 'Show run' }).click();
    await expect(panel).toBeVisible();
    await expect(panel.getByRole('tab', { name: /^Run/ })).toHaveAttribute(
      'aria-selected',
      'true'
    );
  });
});
