/**
 * "Save configuration as run file…" (the current edits) and History's "Save as run file" (a run's
 * edits): asks where (beside the package by default) and for a title, never replaces a file
 * without asking, and writes the run file through JupyterLab's contents API.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type { RunEdits, RunRecord } from 'reproserver/contract';
import type { PackageSession } from '../model/package';
import { errorText } from '../model/package';
import { h, input } from '../panel/dom';
import { exists, type IWorkspaceFiles } from '../sweep/export';
import { makeRunFile, runFilePathFor, runFileText } from './write';

/** The dialog's body: the run file's path and its title. */
class SaveBody extends Widget {
  constructor(path: string, title: string, trans: TranslationBundle) {
    super();
    this.addClass('jp-ReproServer-saveRunFile');
    this._path = input({
      value: path,
      'aria-label': trans.__('Run file path')
    });
    this._title = input({ value: title, 'aria-label': trans.__('Title') });
    this.node.append(
      h('label', {}, trans.__('Path in the workspace'), this._path),
      h('label', {}, trans.__('Title (optional)'), this._title)
    );
  }

  getValue(): { path: string; title: string } {
    return {
      path: this._path.value.trim().replace(/^\/+/, ''),
      title: this._title.value
    };
  }

  private _path: HTMLInputElement;
  private _title: HTMLInputElement;
}

/**
 * Saves the session's package with `record`'s edits (the current edits without one) as a run
 * file. Resolves with the path written, or null (cancelled, kept, or failed: a notice says why).
 */
export async function saveAsRunFile(
  session: PackageSession,
  files: IWorkspaceFiles,
  trans: TranslationBundle,
  notify: (kind: 'error' | 'info', text: string) => void,
  record?: RunRecord
): Promise<string | null> {
  const details = session.details;
  if (!details) {
    return null;
  }
  let edits: RunEdits;
  try {
    edits = record ? record.edits : (session.edits?.toRunEdits() ?? {});
    if (!record && session.runFile) {
      // Opened from a run file: what a run would send, its locked fields as it sets them.
      edits = session.runFile.request(edits);
    }
  } catch (error) {
    notify('error', errorText(error));
    return null;
  }
  const asked = await showDialog({
    title: record
      ? trans.__('Save Run as Run File')
      : trans.__('Save Configuration as Run File'),
    body: new SaveBody(runFilePathFor(session.path), details.name, trans),
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: trans.__('Save') })
    ]
  });
  if (!asked.button.accept || !asked.value?.path) {
    return null;
  }
  const upload = edits.inputs?.find(input => input.source.kind !== 'workspace');
  if (upload) {
    notify(
      'error',
      trans.__(
        'The input %1 is not a file of the workspace; a run file can only name workspace files: replace it with one first.',
        upload.name
      )
    );
    return null;
  }
  let path = asked.value.path;
  if (!/\.rpzrun$/i.test(path)) {
    path += '.rpzrun';
  }
  let text: string;
  try {
    text = runFileText(
      makeRunFile({
        runFilePath: path,
        packagePath: session.path,
        sha256: details.sha256,
        edits,
        title: asked.value.title
      })
    );
  } catch (error) {
    notify('error', errorText(error));
    return null;
  }
  if (await exists(files, path)) {
    const replace = await showDialog({
      title: trans.__('Replace %1?', path),
      body: trans.__(
        'A file with this name is in the workspace already. Replace it with this run file?'
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Keep it') }),
        Dialog.warnButton({ label: trans.__('Replace') })
      ]
    });
    if (!replace.button.accept) {
      return null;
    }
  }
  try {
    await files.save(path, { type: 'file', format: 'text', content: text });
  } catch (error) {
    notify(
      'error',
      trans.__('The run file could not be written: %1', errorText(error))
    );
    return null;
  }
  notify('info', trans.__('Saved the run file %1.', path));
  return path;
}
