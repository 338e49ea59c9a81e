/* eslint-disable jupyter/no-untranslated-string -- test data, not UI text */
import { expect, galata, test } from '@jupyterlab/galata';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  argField,
  examplesDir,
  readWorkspaceFile,
  runToEnd,
  savedFolder,
  topTwoWords
} from './helpers';

const FOLDER = 'reproserver-ui-runfile';

/**
 * Course mode: a run file that locks every field but the count (step 0, argument 3), opened by
 * its URL (`/lab/tree/<path>.rpzrun`) as a student would from a link. The panel shows the
 * instructions (Markdown, rendered) and only the open field as editable; the run goes to the real
 * companion server, which checks it against the run file, and gives the changed count's output.
 */
test.describe('A locked run file', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'jupyterlab-reproserver:plugin': { backend: 'sandbox' }
    },
    // The URL opens the run file instead of the Launcher, which galata waits for by default:
    // wait for JupyterLab's splash screen to go instead (as binder.spec.ts does).
    autoGoto: false,
    // Playwright reads fixture dependencies from the destructuring pattern: none here.
    waitForApplication: async ({}, use) => {
      await use(async page => {
        await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
      });
    }
  });
  test.setTimeout(120000);

  test('opens by URL with its instructions, edits only its open field, and runs', async ({
    page,
    baseURL
  }) => {
    const rpz = path.join(examplesDir, 'shell-pipeline.rpz');
    const sha256 = crypto
      .createHash('sha256')
      .update(fs.readFileSync(rpz))
      .digest('hex');
    await page.contents.uploadFile(rpz, `${FOLDER}/shell-pipeline.rpz`);
    const runFile = {
      rpzrun: 1,
      title: 'How many words?',
      instructions: 'Change **how many words** it shows, then press _Run_.',
      package: { path: 'shell-pipeline.rpz', sha256 },
      edits: {
        stepEdits: [{ step: 0, args: [{ index: 3, value: '5' }] }],
        limits: { timeoutSeconds: 120 }
      },
      open: [{ kind: 'arg', step: 0, index: 3 }]
    };
    await page.contents.uploadContent(
      JSON.stringify(runFile),
      'text',
      `${FOLDER}/exercise.rpzrun`
    );

    await page.goto(`tree/${FOLDER}/exercise.rpzrun`);
    const panel = page.locator('.jp-ReproServer-runFileDocument');
    const section = panel.locator('.jp-ReproServer-runFile');
    await expect(section.locator('h2')).toHaveText('How many words?', {
      timeout: 30000
    });
    // The instructions are Markdown, drawn by JupyterLab's renderer.
    await expect(
      section.locator('.jp-ReproServer-runFile-instructions strong')
    ).toHaveText('how many words');
    await expect(
      section.locator('.jp-ReproServer-runFile-locked')
    ).toContainText('Time limit (seconds): 120');

    // The open field, with the run file's value: the only editable one.
    const open = section.locator('[data-field="arg 0:3"] input');
    await expect(open).toHaveValue('5');
    await expect(open).toBeEditable();
    // Locked: the time limit in the toolbar, and the Parameters tab's fields.
    await expect(
      panel.getByRole('spinbutton', { name: 'Time limit (seconds)' })
    ).toBeDisabled();
    await panel.getByRole('tab', { name: 'Parameters' }).click();
    await expect(argField(panel, 0, 2)).toBeDisabled();
    await expect(argField(panel, 0, 3)).toBeDisabled();

    await open.fill('2');
    expect(await runToEnd(panel)).toBe('Succeeded');
    const folder = await savedFolder(panel);
    expect(
      await readWorkspaceFile(page, baseURL, `${folder}/top-words.txt`)
    ).toBe(topTwoWords().outputs['top-words.txt'].text);

    // The run's History entry saved as a run file: the package beside it, with its sha256 and
    // the run's edits.
    await panel.getByRole('tab', { name: /^History/ }).click();
    await panel
      .locator('.jp-ReproServer-historyRun')
      .first()
      .getByRole('button', { name: 'Save as run file' })
      .click();
    const dialog = page.locator('.jp-Dialog');
    await dialog
      .getByRole('textbox', { name: 'Run file path' })
      .fill(`${FOLDER}/from-history.rpzrun`);
    await dialog.getByRole('button', { name: 'Save' }).click();
    const saved = `${baseURL}/api/contents/${FOLDER}/from-history.rpzrun?content=1&type=file&format=text`;
    await expect
      .poll(async () => {
        const response = await page.request.get(saved);
        if (!response.ok()) {
          return null;
        }
        const { content } = await response.json();
        // Jupyter writes a file in place (its "atomic" writing keeps a copy aside): a read during
        // the write may see it empty or cut, which is not yet the run file.
        try {
          return JSON.parse(content);
        } catch {
          return content;
        }
      })
      .toEqual({
        rpzrun: 1,
        title: 'shell-pipeline.rpz',
        package: { path: 'shell-pipeline.rpz', sha256 },
        edits: {
          stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }],
          limits: { timeoutSeconds: 120 }
        }
      });

    // Nor through the API: a request from the run file that changes a locked field is refused.
    const refused = await page.request.post(`${baseURL}/reproserver/api/runs`, {
      data: {
        package: sha256,
        runFile: `${FOLDER}/exercise.rpzrun`,
        backend: 'sandbox',
        edits: {
          stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }],
          limits: { timeoutSeconds: 3600 }
        }
      }
    });
    expect(refused.status()).toBe(403);
    expect((await refused.json()).error?.code ?? '').toBe('locked-field');

    await page.menu.clickMenuItem('File>Close All Tabs');
    await page.contents.deleteDirectory(FOLDER);
  });

  test('the example exercise (the README’s second Binder link) runs on its committed package', async ({
    page
  }) => {
    // As the repository is on Binder: examples/ with the package and the run file.
    const examples = path.resolve(__dirname, '..', '..', 'examples');
    for (const file of ['shell-pipeline.rpz', 'exercise.rpzrun']) {
      await page.contents.uploadFile(
        path.join(examples, file),
        `${FOLDER}/examples/${file}`
      );
    }
    await page.goto(`tree/${FOLDER}/examples/exercise.rpzrun`);
    const panel = page.locator('.jp-ReproServer-runFileDocument');
    const section = panel.locator('.jp-ReproServer-runFile');
    await expect(section.locator('h2')).toHaveText(
      'Word frequencies: how many words?',
      { timeout: 30000 }
    );
    await expect(section.locator('[data-field="arg 0:3"] input')).toHaveValue(
      '5'
    );
    // The run file's sha256 is the committed package's: the server runs it.
    expect(await runToEnd(panel)).toBe('Succeeded');
    await expect(panel.locator('pre.jp-ReproServer-log')).toContainText(
      'top 5 words'
    );
    await page.menu.clickMenuItem('File>Close All Tabs');
    await page.contents.deleteDirectory(FOLDER);
  });
});
