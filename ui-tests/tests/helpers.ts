import { expect, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

/** The packages made by the real reprozip (the test command packs them), with their manifests. */
export const examplesDir =
  process.env.REPROSERVER_EXAMPLES_DIR ??
  path.resolve(__dirname, '..', '..', '.state', 'examples');

/** What an example's manifest says a run produces. */
export function example(name: string): {
  outputs: Record<string, { text: string }>;
  variants: {
    id: string;
    inputs?: Record<string, { text: string }>;
    outputs: Record<string, { text: string }>;
  }[];
} {
  return JSON.parse(
    fs.readFileSync(path.join(examplesDir, `${name}.json`), 'utf-8')
  );
}

/** Where most tests put their packages: one folder for all, so outputs land beside them. */
export const PACKAGES_DIR = 'reproserver-ui-packages';

/** Uploads an example package into the packages folder and opens it by double-click. */
export async function openPackage(
  page: IJupyterLabPageFixture,
  name: string
): Promise<Locator> {
  await page.contents.uploadFile(
    path.join(examplesDir, `${name}.rpz`),
    `${PACKAGES_DIR}/${name}.rpz`
  );
  return openInFileBrowser(page, PACKAGES_DIR, `${name}.rpz`);
}

/** Opens a package already in the workspace by double-click in the file browser. */
export async function openInFileBrowser(
  page: IJupyterLabPageFixture,
  folder: string,
  file: string
): Promise<Locator> {
  await page.filebrowser.openDirectory(folder);
  await page.filebrowser.open(file);
  return waitForPanel(page);
}

/**
 * The ReproServer document of a package (its toolbar, with Run, Cancel and the limits, and the
 * panel below it), once the panel shows the package's command lines.
 */
export async function waitForPanel(
  page: IJupyterLabPageFixture,
  timeout = 30000
): Promise<Locator> {
  const panel = page.locator('.jp-ReproServer-document');
  await expect(panel.locator('.jp-ReproServer-cmdline').first()).toBeVisible({
    timeout
  });
  return panel;
}

/** The text of a workspace file, through Jupyter's contents API. */
export async function readWorkspaceFile(
  page: IJupyterLabPageFixture,
  baseURL: string | undefined,
  filePath: string
): Promise<string> {
  const response = await page.request.get(
    `${baseURL}/api/contents/${filePath
      .split('/')
      .map(encodeURIComponent)
      .join('/')}?content=1&type=file&format=text`
  );
  expect(response.status()).toBe(200);
  return (await response.json()).content;
}

/** Waits until the run shown in the panel has ended, and returns its status label. */
export async function waitForEnd(
  panel: Locator,
  timeout = 180000
): Promise<string> {
  const badge = panel.locator('.jp-ReproServer-runHead .jp-ReproServer-badge');
  await expect(badge).toHaveText(
    /Succeeded|Failed|Cancelled|Timed out|Out of memory|Error|Interrupted/,
    { timeout }
  );
  return (await badge.textContent()) ?? '';
}

/** Clicks Run and waits until that run has ended; returns its status label. */
export async function runToEnd(panel: Locator): Promise<string> {
  // The head still shows the previous run (and its end) until the new run is created: wait for
  // its title to name another run, or an earlier "Succeeded" would be read as this run's end.
  const title = panel.locator('.jp-ReproServer-runHead strong');
  const before = (await title.count()) ? await title.textContent() : null;
  await panel.getByRole('button', { name: 'Run', exact: true }).click();
  if (before) {
    await expect(title).not.toHaveText(before, { timeout: 60000 });
  }
  return waitForEnd(panel);
}

/** shell-pipeline's variant with its count (step 0, argument 3) set to 2: what it must give. */
export function topTwoWords(): ReturnType<typeof example>['variants'][number] {
  return example('shell-pipeline').variants.find(v => v.id === 'top-2')!;
}

/** In a shell-pipeline panel: sets the count to 2 on the Parameters tab, runs, expects success. */
export async function runTopTwoWords(panel: Locator): Promise<void> {
  await panel.getByRole('tab', { name: 'Parameters' }).click();
  await argField(panel, 0, 3).fill('2');
  expect(await runToEnd(panel)).toBe('Succeeded');
}

/** The saved outputs folder the panel reports. */
export async function savedFolder(panel: Locator): Promise<string> {
  const saved = panel.locator('.jp-ReproServer-savedTo');
  await expect(saved).toBeVisible({ timeout: 30000 });
  return ((await saved.textContent()) ?? '').replace(/^Saved in /, '').trim();
}

/** The field of argument `index` of step `step` on the Parameters tab. */
export function argField(panel: Locator, step: number, index: number): Locator {
  return panel.locator(
    `[data-step="${step}"] .jp-ReproServer-field[data-index="${index}"] input`
  );
}
