import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  Notification
} from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import type { ImportRecord } from 'reproserver/contract';
import { EXTENSION_ID, FACTORY_NAME, IReproServerTracker } from '../tokens';
import { ImportFlow, progressText } from './flow';

/** The command; its File menu entry is declared in `schema/import.json`. */
export const OPEN_URL_COMMAND = 'reproserver:open-url';

/**
 * "Open ReproZip package from URL…": asks for a DOI or a URL, has the companion server fetch the
 * package into the folder the file browser shows (`POST /api/imports`), shows its progress in a
 * notification (with a Cancel button), asks which package to take when the record holds several,
 * then opens it in the ReproServer panel.
 */
export const importPlugin: JupyterFrontEndPlugin<void> = {
  id: `${EXTENSION_ID}:import`,
  description:
    'Open a ReproZip package from a DOI, a Zenodo, OSF, Figshare or Dataverse record, or a URL.',
  autoStart: true,
  requires: [IReproServerTracker],
  optional: [ICommandPalette, IDefaultFileBrowser, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: IReproServerTracker,
    palette: ICommandPalette | null,
    browser: IDefaultFileBrowser | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_reproserver');

    app.commands.addCommand(OPEN_URL_COMMAND, {
      label: trans.__('Open ReproZip Package from URL…'),
      caption: trans.__(
        'Fetch a ReproZip package from a DOI, a data repository record or a URL into the workspace, and open it'
      ),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            source: {
              type: 'string',
              description: trans.__(
                'The DOI or URL; without it, the user is asked'
              )
            }
          }
        }
      },
      execute: async args => {
        let source = typeof args.source === 'string' ? args.source : '';
        if (!source) {
          const asked = await InputDialog.getText({
            title: trans.__('Open ReproZip Package from URL'),
            label: trans.__(
              'A DOI, a Zenodo, OSF, Figshare or Dataverse record, or the https URL of an .rpz file:'
            ),
            placeholder: trans.__('10.5281/zenodo.1234')
          });
          source = asked.button.accept ? (asked.value ?? '').trim() : '';
        }
        if (!source) {
          return;
        }
        let flow: ImportFlow | null = null;
        const actions = [
          {
            label: trans.__('Cancel'),
            caption: trans.__('Stop this download'),
            callback: () => flow?.cancel()
          }
        ];
        const id = Notification.emit(
          trans.__('Looking up %1…', source),
          'in-progress',
          { autoClose: false, actions }
        );
        const show = (record: ImportRecord) =>
          Notification.update({
            id,
            message: progressText(record, trans),
            type: 'in-progress',
            autoClose: false,
            actions
          });
        flow = new ImportFlow(tracker.client, {
          progress: show,
          choose: async candidates => {
            const chosen = await InputDialog.getItem({
              title: trans.__('Choose a ReproZip Package'),
              label: trans.__(
                'This record holds %1 packages; which one to open?',
                candidates.length
              ),
              items: candidates.map(candidate => candidate.name)
            });
            return chosen.button.accept ? chosen.value : null;
          }
        });
        const folder = browser?.model.path ?? '';
        const outcome = await flow.run(source, folder || undefined);
        if (outcome.kind === 'done') {
          Notification.update({
            id,
            message: progressText(outcome.record, trans),
            type: 'success',
            autoClose: 5000,
            actions: []
          });
          await app.commands.execute('docmanager:open', {
            path: outcome.path,
            factory: FACTORY_NAME
          });
        } else if (outcome.kind === 'cancelled') {
          Notification.update({
            id,
            message: trans.__('Not fetched: %1', source),
            type: 'info',
            autoClose: 3000,
            actions: []
          });
        } else {
          Notification.update({
            id,
            message: outcome.message,
            type: 'error',
            autoClose: false,
            actions: []
          });
        }
      }
    });

    palette?.addItem({
      command: OPEN_URL_COMMAND,
      category: trans.__('ReproServer')
    });
  }
};
