import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import {
  argField,
  openPackage,
  readWorkspaceFile,
  runToEnd,
  savedFolder
} from './helpers';

/** The names of the files in a workspace folder, through Jupyter's contents API. */
async function filesIn(
  page: IJupyterLabPageFixture,
  baseURL: string | undefined,
  folder: string
): Promise<string[]> {
  const response = await page.request.get(
    `${baseURL}/api/contents/${folder.split('/').map(encodeURIComponent).join('/')}?content=1`
  );
  if (response.status() !== 200) {
    return [];
  }
  const model = (await response.json()) as {
    content: { name: string; type: string }[];
  };
  return model.content
    .filter(item => item.type === 'file')
    .map(item => item.name)
    .sort();
}

/**
 * _Copy as command_ gives a line that runs as-is in a JupyterLab terminal (the `reproserver`
 * command on the terminal's PATH, paths relative to the Jupyter root where terminals start), and
 * it gives the same outputs as the panel's run of the same edits.
 */
test.describe('Copy as command', () => {
  test.setTimeout(400000);

  test('pasted into a JupyterLab terminal, runs and gives the panel run’s outputs', async ({
    page,
    context,
    baseURL
  }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: baseURL
    });
    const panel = await openPackage(page, 'shell-pipeline');
    await panel.getByRole('tab', { name: 'Parameters' }).click();
    await argField(panel, 0, 3).fill('2');
    await panel.getByRole('button', { name: 'Copy as command' }).click();
    // What the panel put on the real clipboard.
    const command = await page.evaluate(() => navigator.clipboard.readText());
    expect(command).toMatch(/^reproserver run \S+ --out (\S+) .*--arg 0:3=2/);
    const out = /--out (\S+)/.exec(command)![1];
    // The line names workspace paths: no placeholder left to fill in.
    expect(command).not.toContain('UPLOADED-');

    // The panel's run of the same edits.
    expect(await runToEnd(panel)).toBe('Succeeded');
    const panelFolder = await savedFolder(panel);
    const panelFiles = await filesIn(page, baseURL, panelFolder);
    expect(panelFiles.length).toBeGreaterThan(0);

    // A terminal of JupyterLab: paste the line (the browser's own paste) and run it.
    await page.menu.clickMenuItem('File>New>Terminal');
    const terminal = page.locator('.jp-Terminal');
    await expect(terminal.locator('.xterm-screen')).toBeVisible();
    await terminal.locator('.xterm-screen').click();
    await page.keyboard.press('Control+Shift+V');
    await page.keyboard.press('Enter');

    // The CLI writes run.json last, once the run is over and its outputs are written.
    await expect
      .poll(
        async () => (await filesIn(page, baseURL, out)).includes('run.json'),
        {
          timeout: 300000,
          intervals: [2000]
        }
      )
      .toBe(true);
    const record = JSON.parse(
      await readWorkspaceFile(page, baseURL, `${out}/run.json`)
    ) as { status: string };
    expect(record.status).toBe('succeeded');
    const cliFiles = (await filesIn(page, baseURL, out)).filter(
      name => name !== 'run.json'
    );
    expect(cliFiles).toEqual(panelFiles);
    for (const name of panelFiles) {
      expect(await readWorkspaceFile(page, baseURL, `${out}/${name}`)).toBe(
        await readWorkspaceFile(page, baseURL, `${panelFolder}/${name}`)
      );
    }
  });
});
