import { expect, test } from '@jupyterlab/galata';
import { openPackage, runToEnd, runTopTwoWords } from './helpers';

/**
 * Comparisons in the panel, on the real server and packages made by the real reprozip: two runs
 * of shell-pipeline picked in History and compared (the edit between them, the changed output's
 * diff), and the determinism check of `nondeterministic`, whose badge names the varying outputs.
 */
test.describe('ReproServer comparisons', () => {
  test.setTimeout(300000);

  test('compares two runs picked in History', async ({ page }) => {
    const panel = await openPackage(page, 'shell-pipeline');
    await runTopTwoWords(panel);
    await panel.getByRole('button', { name: 'Reset all' }).click();
    expect(await runToEnd(panel)).toBe('Succeeded');

    await panel.getByRole('tab', { name: /^History/ }).click();
    const rows = panel.locator('.jp-ReproServer-historyRun');
    // Newest first: the run as recorded (3 words), then the one with 2.
    await rows.nth(1).getByRole('button', { name: 'Pick to compare' }).click();
    await rows.nth(0).getByRole('button', { name: 'Pick to compare' }).click();
    await panel
      .getByRole('button', { name: 'Compare the two picked runs' })
      .click();
    const view = panel.locator('.jp-ReproServer-compare');
    // The whole view's text in the message, should it not be the comparison.
    await expect(view).toContainText('What separates the runs');
    await expect(view.locator('.jp-ReproServer-compareEdits')).toContainText(
      'step 0 argv: sh wordfreq.sh words.txt 2 → sh wordfreq.sh words.txt 3'
    );
    const top = view.locator(
      '.jp-ReproServer-compareOutput[data-output="top-words.txt"]'
    );
    await expect(top).toContainText('changed');
    await top.getByRole('button', { name: 'Show' }).click();
    await expect(
      view.locator(
        '.jp-ReproServer-compareDetail[data-output="top-words.txt"] .jp-ReproServer-diff-added'
      )
    ).toHaveText('+dog 3');
  });

  test('checks determinism and shows the badge on the overview', async ({
    page
  }) => {
    const panel = await openPackage(page, 'nondeterministic');
    await panel.getByRole('tab', { name: /^History/ }).click();
    await panel.getByRole('button', { name: 'Check determinism' }).click();
    const badge = panel.locator(
      '.jp-ReproServer-history .jp-ReproServer-determinism-varies'
    );
    await expect(badge).toHaveText(
      /^(stamp\.txt, plot\.svg|plot\.svg, stamp\.txt) differ between identical runs/,
      { timeout: 180000 }
    );
    await panel.getByRole('tab', { name: 'Overview' }).click();
    await expect(
      panel.locator(
        '.jp-ReproServer-section-overview .jp-ReproServer-determinism-varies'
      )
    ).toBeVisible();
  });
});
