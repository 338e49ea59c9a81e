import { expect, test } from '@jupyterlab/galata';
import type { Locator, Page, Response } from '@playwright/test';
import { argField, openPackage, waitForEnd } from './helpers';

/**
 * Every control works on the first click right after editing another field. A field that
 * commits on `change` (fired on blur, i.e. on the mousedown of the next control) must not make
 * the panel replace that control, or the click is lost.
 *
 * The fields a user types in, each followed here by a click on Run: the memory and time limits
 * (toolbar), an argument field and the raw command line (Parameters), an environment value
 * (Parameters, under Environment). Tabs are clicked after editing too.
 */

/** The answer to the next `POST …/api/runs` the page sends. */
function nextRunResponse(page: Page): Promise<Response> {
  return page.waitForResponse(
    response =>
      response.request().method() === 'POST' &&
      /\/reproserver\/api\/runs(\?\d*)?$/.test(response.url()),
    { timeout: 10000 }
  );
}

/** Types into a field as a user does: click, select all, type (no blur yet). */
async function typeInto(field: Locator, text: string): Promise<void> {
  await field.click();
  await field.press('ControlOrMeta+a');
  await field.pressSequentially(text);
}

/** Clicks Run once and returns the body of the run it started; waits for that run's end. */
async function runOnce(page: Page, panel: Locator): Promise<unknown> {
  const response = nextRunResponse(page);
  await panel.getByRole('button', { name: 'Run', exact: true }).click();
  const started = await response;
  const { id } = (await started.json()) as { id: string };
  // The panel shows the new run (not the previous one, already ended) before it can end.
  await expect(panel.locator('.jp-ReproServer-runHead strong')).toHaveText(
    `Run ${id}`
  );
  expect(await waitForEnd(panel)).toBe('Succeeded');
  return started.request().postDataJSON();
}

test.describe('ReproServer panel: the first click after an edit', () => {
  test.setTimeout(300000);

  test('starts a run on the first click on Run after editing each kind of field', async ({
    page
  }) => {
    const panel = await openPackage(page, 'shell-pipeline');
    // The companion server is at the extension's version: no warning. The Run button names its
    // shortcut as the command registry has it.
    await expect(panel.locator('.jp-ReproServer-versionMismatch')).toHaveCount(
      0
    );
    await expect(
      panel.getByRole('button', { name: 'Run', exact: true })
    ).toHaveAttribute('title', /\(Ctrl\+Enter\)$/);

    await typeInto(panel.getByLabel('Memory limit (MiB)'), '1536');
    expect(await runOnce(page, panel)).toMatchObject({
      edits: { limits: { memoryMiB: 1536 } }
    });

    await typeInto(panel.getByLabel('Time limit (seconds)'), '300');
    expect(await runOnce(page, panel)).toMatchObject({
      edits: { limits: { memoryMiB: 1536, timeoutSeconds: 300 } }
    });

    // A tab right after a limit field: the tab shows on the first click.
    await typeInto(panel.getByLabel('Time limit (seconds)'), '200');
    await panel.getByRole('tab', { name: 'Parameters' }).click();
    await expect(
      panel.getByRole('tab', { name: 'Parameters' })
    ).toHaveAttribute('aria-selected', 'true');

    await panel.getByRole('tab', { name: 'Parameters' }).click();
    await typeInto(argField(panel, 0, 3), '2');
    expect(await runOnce(page, panel)).toMatchObject({
      edits: {
        limits: { timeoutSeconds: 200 },
        stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }]
      }
    });

    await panel.getByRole('tab', { name: 'Parameters' }).click();
    const env = panel.locator('[data-step="0"] .jp-ReproServer-env');
    await env.locator('summary').click();
    const variable = env.locator('tbody tr').first();
    const name = await variable.locator('input').first().inputValue();
    await typeInto(variable.locator('input').nth(1), 'first-click');
    const withEnv = JSON.stringify(await runOnce(page, panel));
    expect(withEnv).toContain(name);
    expect(withEnv).toContain('first-click');

    await panel.getByRole('tab', { name: 'Parameters' }).click();
    await panel
      .locator('[data-step="0"] .jp-ReproServer-stepHeader')
      .getByText('Edit as text')
      .click();
    const raw = panel.locator('[data-step="0"] textarea.jp-ReproServer-raw');
    await typeInto(raw, 'sh wordfreq.sh words.txt 1');
    expect(JSON.stringify(await runOnce(page, panel))).toContain('wordfreq.sh');
  });
});
