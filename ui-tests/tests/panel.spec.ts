import { expect, galata, test } from '@jupyterlab/galata';
import * as path from 'path';
import {
  argField,
  example,
  examplesDir,
  openPackage,
  PACKAGES_DIR,
  readWorkspaceFile,
  runToEnd,
  runTopTwoWords,
  savedFolder,
  topTwoWords,
  waitForEnd
} from './helpers';

/**
 * The ReproServer panel against the real companion server and real Docker: open, edit, run,
 * watch the log, get outputs, replace inputs, cancel, history, and what happens when the server
 * does not answer.
 */

test.describe('ReproServer panel', () => {
  test.setTimeout(300000);

  test('changes a numeric argument, runs, and gets the outputs in the workspace', async ({
    page,
    baseURL
  }) => {
    const expected = topTwoWords();
    const panel = await openPackage(page, 'shell-pipeline');
    await panel.getByRole('tab', { name: 'Parameters' }).click();
    const count = argField(panel, 0, 3);
    await expect(count).toHaveValue('3');
    await count.fill('2');
    await expect(
      panel.locator('[data-step="0"] .jp-ReproServer-field[data-index="3"]')
    ).toHaveClass(/jp-mod-changed/);

    await panel.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(panel.getByRole('tab', { name: /^Run/ })).toHaveAttribute(
      'aria-selected',
      'true'
    );
    expect(await waitForEnd(panel)).toBe('Succeeded');
    await expect(panel.locator('pre.jp-ReproServer-log')).toContainText(
      'top 2 words in words.txt:'
    );
    await expect(panel.locator('.jp-ReproServer-runStep')).toContainText(
      'exit code 0'
    );

    const folder = await savedFolder(panel);
    expect(folder).toMatch(/shell-pipeline(\.rpz)?\.runs\/[^/]+$/);
    expect(folder.startsWith(`${PACKAGES_DIR}/`)).toBe(true);
    expect(
      await readWorkspaceFile(page, baseURL, `${folder}/top-words.txt`)
    ).toBe(expected.outputs['top-words.txt'].text);

    // Clicking an output opens it in JupyterLab's own viewer.
    await panel
      .locator('[data-output="top-words.txt"] a.jp-ReproServer-link')
      .click();
    await expect(
      page.getByRole('tab', { name: 'top-words.txt' })
    ).toBeVisible();
    await expect(page.locator('.jp-FileEditor .cm-content')).toContainText(
      'fox 4'
    );
  });

  test('shows log lines while the experiment still runs', async ({ page }) => {
    const panel = await openPackage(page, 'slow-printer');
    await panel.getByRole('button', { name: 'Run', exact: true }).click();
    const log = panel.locator('pre.jp-ReproServer-log');
    await expect(log).toContainText('tick 1/5', { timeout: 120000 });
    // The run is still going when the first lines are there.
    await expect(
      panel.locator('.jp-ReproServer-runHead .jp-ReproServer-badge')
    ).toHaveText('Running');
    await expect(log).not.toContainText('done');
    expect(await waitForEnd(panel)).toBe('Succeeded');
    await expect(log).toContainText('tick 5/5');
    await expect(log).toContainText('done');
    // No line twice.
    const text = (await log.textContent()) ?? '';
    expect(text.match(/tick 1\/5/g)).toHaveLength(1);
  });

  test('cancels a long run', async ({ page }) => {
    const panel = await openPackage(page, 'slow-printer');
    await panel.getByRole('tab', { name: 'Parameters' }).click();
    await argField(panel, 0, 2).fill('120');
    await panel.getByRole('button', { name: 'Run', exact: true }).click();
    const log = panel.locator('pre.jp-ReproServer-log');
    await expect(log)
      .toContainText('tick 1/120', { timeout: 120000 })
      .catch(async e => {
        await page.screenshot({ path: 'test-results/cancel-debug.png' });
        throw e;
      });
    await panel
      .locator('.jp-ReproServer-runHead .jp-ReproServer-cancel')
      .click();
    expect(await waitForEnd(panel, 60000)).toBe('Cancelled');
    await expect(log).not.toContainText('tick 120/120');
  });

  test('replaces an input with a workspace file', async ({
    page,
    tmpPath,
    baseURL
  }) => {
    const variant = example('shell-pipeline').variants.find(
      v => v.id === 'other-words'
    )!;
    await page.contents.uploadContent(
      variant.inputs!.arg2.text,
      'text',
      `${tmpPath}/other words.txt`
    );
    const panel = await openPackage(page, 'shell-pipeline');
    await panel.getByRole('tab', { name: 'Inputs' }).click();
    const slot = panel.locator('[data-input="arg2"]');
    // The original file's packed size (words.txt: well under a kilobyte).
    await expect(slot.locator('.jp-ReproServer-inputSize')).toHaveText(
      /^\d+ bytes?$/
    );
    await slot.getByRole('button', { name: 'Choose from workspace…' }).click();
    // JupyterLab's own file dialog: into the test's folder, pick the file.
    const dialog = page.locator('.jp-Dialog');
    await dialog
      .locator('.jp-DirListing-item', { hasText: tmpPath })
      .dblclick();
    await dialog
      .locator('.jp-DirListing-item', { hasText: 'other words.txt' })
      .click();
    await dialog.getByRole('button', { name: 'Select' }).click();
    await expect(slot).toContainText(`Replaced by ${tmpPath}/other words.txt`);

    expect(await runToEnd(panel)).toBe('Succeeded');
    const folder = await savedFolder(panel);
    expect(
      await readWorkspaceFile(page, baseURL, `${folder}/top-words.txt`)
    ).toBe(variant.outputs['top-words.txt'].text);
  });

  test('re-runs an earlier run from the history with the same edits', async ({
    page,
    baseURL
  }) => {
    const expected = topTwoWords();
    const panel = await openPackage(page, 'shell-pipeline');
    await runTopTwoWords(panel);
    const firstFolder = await savedFolder(panel);

    // Back to the recorded parameters, then re-run the earlier run from the history.
    await panel.getByRole('button', { name: 'Reset all' }).click();
    await panel.getByRole('tab', { name: /^History/ }).click();
    const rows = panel.locator('.jp-ReproServer-historyRun');
    await expect(rows.first()).toContainText('run0: argument 3 = 2');
    await rows.first().getByRole('button', { name: 'Re-run' }).click();
    await expect(panel.getByRole('tab', { name: /^Run/ })).toHaveAttribute(
      'aria-selected',
      'true'
    );
    // The badge still shows the first run's ending for a moment: wait for the new run's folder.
    await expect(panel.locator('.jp-ReproServer-savedTo')).not.toHaveText(
      `Saved in ${firstFolder}`,
      { timeout: 180000 }
    );
    expect(await waitForEnd(panel)).toBe('Succeeded');
    const secondFolder = await savedFolder(panel);
    expect(
      await readWorkspaceFile(page, baseURL, `${secondFolder}/top-words.txt`)
    ).toBe(expected.outputs['top-words.txt'].text);
    await panel.getByRole('tab', { name: /^History/ }).click();
    await expect(panel.locator(`[data-run]`).first()).toBeVisible();
  });

  // A package deleted with an earlier folder and opened again from elsewhere runs from the new file.
  test('runs the same package opened from a new path after the first was deleted', async ({
    page,
    tmpPath
  }) => {
    const name = 'shell-pipeline.rpz';
    for (const folder of [`${tmpPath}/a`, `${tmpPath}/b`]) {
      await page.contents.uploadFile(
        path.join(examplesDir, name),
        `${folder}/${name}`
      );
      await page.filebrowser.openDirectory(folder);
      await page.filebrowser.open(name);
      const panel = page.locator('.jp-ReproServer-document:visible');
      expect(await runToEnd(panel)).toBe('Succeeded');
      await page.menu.clickMenuItem('File>Close All Tabs');
      await page.contents.deleteDirectory(folder);
    }
  });
});

test.describe('ReproServer panel with the sandbox backend chosen in the settings', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'jupyterlab-reproserver:plugin': { backend: 'sandbox' }
    }
  });

  test('runs without Docker and says which backend ran it', async ({
    page,
    baseURL
  }) => {
    const expected = topTwoWords();
    const panel = await openPackage(page, 'shell-pipeline');
    await expect(panel.locator('.jp-ReproServer-backend')).toContainText(
      'Runs on sandbox: Sandbox:'
    );
    await runTopTwoWords(panel);
    const folder = await savedFolder(panel);
    expect(
      await readWorkspaceFile(page, baseURL, `${folder}/top-words.txt`)
    ).toBe(expected.outputs['top-words.txt'].text);
    await panel.getByRole('tab', { name: /^History/ }).click();
    await expect(
      panel
        .locator('.jp-ReproServer-historyRun')
        .first()
        .locator('.jp-ReproServer-runBackend')
    ).toHaveText('sandbox');
  });
});

test.describe('ReproServer panel without its server', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'jupyterlab-reproserver:plugin': { serverUrl: 'http://127.0.0.1:9/' }
    }
  });

  test('says the companion server does not answer', async ({
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
    const message = page.locator(
      '.jp-ReproServer-panel .jp-ReproServer-unreachable'
    );
    await expect(message).toContainText(
      'The ReproServer companion server does not answer.'
    );
    await expect(message).toContainText('http://127.0.0.1:9/');
    await expect(
      page.locator('.jp-ReproServer-panel .jp-ReproServer-tabs')
    ).toBeHidden();
  });
});
