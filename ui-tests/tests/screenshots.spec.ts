import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { openPackage } from './helpers';

/**
 * Screenshot baselines of the panel (overview, running, finished) in the light and the dark
 * theme. What changes from run to run (run id, elapsed time, durations, history size) is masked.
 */

function masks(panel: Locator): Locator[] {
  return [
    panel.locator('.jp-ReproServer-elapsed'),
    panel.locator('.jp-ReproServer-runHead strong'),
    panel.locator('.jp-ReproServer-stepState'),
    panel.locator('.jp-ReproServer-savedTo'),
    // Names the host's Docker socket, and what this host's backend isolates.
    panel.locator('.jp-ReproServer-backend'),
    panel.locator('.jp-ReproServer-isolation'),
    panel.locator('[data-tab="history"]')
  ];
}

for (const theme of ['light', 'dark'] as const) {
  test.describe(`ReproServer panel screenshots, ${theme} theme`, () => {
    test.setTimeout(240000);

    test.beforeEach(async ({ page }) => {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      } else {
        await page.theme.setLightTheme();
      }
    });

    test('overview, running, finished', async ({ page }) => {
      const panel = await openPackage(page, 'slow-printer');
      // The file browser is not part of what is compared; the panel gets the width.
      await page.sidebar.close('left');
      await page.mouse.move(0, 0);
      expect
        .soft(
          await panel.screenshot({ mask: masks(panel), animations: 'disabled' })
        )
        .toMatchSnapshot(`overview-${theme}.png`, { maxDiffPixelRatio: 0.01 });

      await panel.getByRole('button', { name: 'Run', exact: true }).click();
      const log = panel.locator('pre.jp-ReproServer-log');
      await expect(log).toContainText('tick 1/5', { timeout: 120000 });
      // The log grows every second: its frame is compared, not its lines.
      await page.mouse.move(0, 0);
      expect
        .soft(
          await panel.screenshot({
            mask: [...masks(panel), log],
            animations: 'disabled'
          })
        )
        .toMatchSnapshot(`running-${theme}.png`, { maxDiffPixelRatio: 0.01 });

      await expect(
        panel.locator('.jp-ReproServer-runHead .jp-ReproServer-badge')
      ).toHaveText('Succeeded', { timeout: 120000 });
      await expect(panel.locator('.jp-ReproServer-savedTo')).toBeVisible({
        timeout: 30000
      });
      await page.mouse.move(0, 0);
      expect(
        await panel.screenshot({ mask: masks(panel), animations: 'disabled' })
      ).toMatchSnapshot(`finished-${theme}.png`, { maxDiffPixelRatio: 0.01 });
      // The README's picture: the whole window, unmasked (copied to docs/ by hand when the panel
      // changes).
      await page.sidebar.open('left');
      await page.screenshot({
        path: test.info().outputPath(`readme-panel-${theme}.png`)
      });
    });
  });
}
