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
  await page.filebrowser.openDirectory(PACKAGES_DIR);
  await page.filebrowser.open(`${name}.rpz`);
  const panel = page.locator('.jp-ReproServer-panel');
  await expect(panel.locator('.jp-ReproServer-cmdline').first()).toBeVisible({
    timeout: 30000
  });
  return panel;
}
