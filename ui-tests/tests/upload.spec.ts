import { expect, test } from '@jupyterlab/galata';
import {
  example,
  openPackage,
  PACKAGES_DIR,
  readWorkspaceFile,
  runToEnd,
  savedFolder
} from './helpers';

/**
 * A file of the user's computer replacing an input: it goes into the workspace through
 * JupyterLab's contents API (not through jupyter-server-proxy to the companion server), shows up
 * in the file browser, and the run reads it by path.
 */
test.describe('ReproServer panel uploads', () => {
  test.setTimeout(300000);

  test('uploads a file of the computer into the workspace and runs with it', async ({
    page,
    baseURL
  }) => {
    const variant = example('shell-pipeline').variants.find(
      v => v.id === 'other-words'
    )!;
    // Only requests to the companion server go through the proxy: none may carry the file.
    const proxied: string[] = [];
    page.on('request', request => {
      if (request.url().includes('/reproserver/api/uploads')) {
        proxied.push(request.url());
      }
    });
    const panel = await openPackage(page, 'shell-pipeline');
    await panel.getByRole('tab', { name: 'Inputs' }).click();
    const slot = panel.locator('[data-input="arg2"]');
    await slot.locator('input[type="file"]').setInputFiles({
      name: 'my words.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(variant.inputs!.arg2.text)
    });
    const uploaded = `${PACKAGES_DIR}/reproserver-uploads/my words.txt`;
    await expect(slot).toContainText(`Replaced by ${uploaded}`);
    expect(await readWorkspaceFile(page, baseURL, uploaded)).toBe(
      variant.inputs!.arg2.text
    );

    // The user sees it in the file browser.
    await page.filebrowser.openDirectory(`${PACKAGES_DIR}/reproserver-uploads`);
    await expect(
      page.locator('.jp-FileBrowser .jp-DirListing-item', {
        hasText: 'my words.txt'
      })
    ).toBeVisible();

    // The run reads it by its workspace path.
    await page.getByRole('tab', { name: /shell-pipeline\.rpz/ }).click();
    expect(await runToEnd(panel)).toBe('Succeeded');
    const folder = await savedFolder(panel);
    expect(
      await readWorkspaceFile(page, baseURL, `${folder}/top-words.txt`)
    ).toBe(variant.outputs['top-words.txt'].text);
    expect(proxied).toEqual([]);
  });
});
