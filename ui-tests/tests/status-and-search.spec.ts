import { expect, test } from '@jupyterlab/galata';
import { openPackage, waitForEnd } from './helpers';

/**
 * JupyterLab's own places for a run: the status bar counts the runs going on (a click shows
 * one), and JupyterLab's search (Ctrl+F) finds text in the run's log.
 */
test.describe('ReproServer in the status bar and the search', () => {
  test.setTimeout(300000);

  test('counts the running run, shows it on click, and searches its log', async ({
    page
  }) => {
    const panel = await openPackage(page, 'slow-printer');
    const item = page.locator('.jp-ReproServer-statusItem');
    await expect(item).toBeHidden();
    await panel.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(item).toHaveText('1 ReproZip run', { timeout: 60000 });

    // Behind another tab, the status bar brings the run back.
    await page.menu.clickMenuItem('File>New Launcher');
    await expect(panel).toBeHidden();
    await item.click();
    await expect(panel).toBeVisible();
    await expect(panel.getByRole('tab', { name: /^Run/ })).toHaveAttribute(
      'aria-selected',
      'true'
    );

    // JupyterLab's search box looks into the log.
    const log = panel.locator('pre.jp-ReproServer-log');
    await expect(log).toContainText('tick 2/', { timeout: 120000 });
    await panel.locator('.jp-ReproServer-title').click();
    await page.keyboard.press('Control+f');
    const search = page.locator('.jp-DocumentSearch-input').first();
    await expect(search).toBeVisible();
    await search.fill('tick 2/');
    await expect(log.locator('mark')).toHaveCount(1);
    await expect(log.locator('mark.jp-mod-current')).toHaveText('tick 2/');
    await expect(
      page.locator('.jp-DocumentSearch-index-counter').first()
    ).toHaveText('1/1');
    await page.keyboard.press('Escape');
    await expect(log.locator('mark')).toHaveCount(0);

    expect(await waitForEnd(panel)).toBe('Succeeded');
    await expect(item).toBeHidden();
  });
});
