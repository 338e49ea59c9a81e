import type { TranslationBundle } from '@jupyterlab/translation';
import type { PackageSession } from '../model/package';
import { button, formatBytes, h } from './dom';

/** The MIME type of file-browser items dragged with Lumino's drag and drop. */
export const CONTENTS_MIME = 'application/x-jupyter-icontents';

/** The part of a Lumino drag event the drop slot reads. */
interface ILuminoDragEvent extends Event {
  mimeData: { hasData(mime: string): boolean; getData(mime: string): unknown };
  proposedAction: string;
  dropAction: string;
}

/**
 * The package's input files: each can be replaced by a workspace file (picked, or dragged from
 * the file browser) or a file of the computer, which is uploaded into the workspace first (with
 * its progress shown), and reset.
 */
export class InputsView {
  constructor(
    private readonly _session: PackageSession,
    private readonly _trans: TranslationBundle,
    private readonly _pickWorkspaceFile: (
      inputName: string
    ) => Promise<string | null>
  ) {
    this.node = h('div', { class: 'jp-ReproServer-inputs' });
    this.render();
  }

  readonly node: HTMLElement;

  render(): void {
    const trans = this._trans;
    const session = this._session;
    const edits = session.edits;
    if (!edits) {
      this.node.replaceChildren();
      return;
    }
    const inputs = edits.model.files.filter(f => f.readBy.length > 0);
    if (inputs.length === 0) {
      this.node.replaceChildren(
        h(
          'p',
          { class: 'jp-ReproServer-muted' },
          trans.__('This package declares no input files.')
        )
      );
      return;
    }
    const slots = inputs.map(file => {
      const replacement = edits.inputs.get(file.name);
      const upload = h('input', {
        type: 'file',
        class: 'jp-ReproServer-hidden',
        'aria-label': trans.__('Upload a replacement for %1', file.name),
        onchange: () => {
          const chosen = upload.files?.[0];
          if (chosen) {
            void session.replaceInputWithUpload(file.name, chosen);
          }
        }
      });
      const steps = file.readBy
        .map(i => edits.model.runs[i]?.id ?? String(i))
        .join(', ');
      const slot = h(
        'div',
        {
          class:
            'jp-ReproServer-inputSlot' + (replacement ? ' jp-mod-changed' : ''),
          'data-input': file.name
        },
        h(
          'div',
          { class: 'jp-ReproServer-inputHead' },
          h('strong', {}, file.name),
          h('code', { class: 'jp-ReproServer-muted' }, file.path),
          h(
            'span',
            { class: 'jp-ReproServer-muted jp-ReproServer-inputSize' },
            sizeText(session.details?.fileSizes?.[file.name], trans)
          ),
          h(
            'span',
            { class: 'jp-ReproServer-muted' },
            trans.__('read by %1', steps)
          )
        ),
        h(
          'div',
          { class: 'jp-ReproServer-inputSource' },
          session.isUploading(file.name)
            ? uploadProgress(session.uploadProgress(file.name) ?? 0, trans)
            : replacement
              ? trans.__('Replaced by %1', replacement.label)
              : trans.__('Original file from the package')
        ),
        h(
          'div',
          { class: 'jp-ReproServer-row' },
          button(trans.__('Choose from workspace…'), () => {
            void this._pickWorkspaceFile(file.name).then(path => {
              if (path) {
                session.replaceInputWithWorkspaceFile(file.name, path);
              }
            });
          }),
          button(trans.__('Upload…'), () => upload.click()),
          replacement
            ? button(trans.__('Reset'), () => edits.resetInput(file.name), {
                class: 'jp-ReproServer-reset'
              })
            : '',
          upload
        ),
        h(
          'div',
          { class: 'jp-ReproServer-dropHint jp-ReproServer-muted' },
          trans.__('or drop a file here from the file browser or your computer')
        )
      );
      this._makeDropTarget(slot, file.name);
      return slot;
    });
    this.node.replaceChildren(...slots);
  }

  private _makeDropTarget(slot: HTMLElement, name: string): void {
    const session = this._session;
    const over = (on: boolean) =>
      slot.classList.toggle('jp-mod-dropTarget', on);
    // Items dragged from JupyterLab's file browser (Lumino drag events).
    const lumino = (event: Event) => {
      const e = event as ILuminoDragEvent;
      if (!e.mimeData?.hasData(CONTENTS_MIME)) {
        return;
      }
      e.preventDefault();
      e.stopPropagation();
      if (event.type === 'lm-dragleave') {
        over(false);
        return;
      }
      if (event.type === 'lm-drop') {
        over(false);
        const paths = e.mimeData.getData(CONTENTS_MIME);
        const path = Array.isArray(paths) ? String(paths[0]) : String(paths);
        e.dropAction = 'copy';
        if (path) {
          session.replaceInputWithWorkspaceFile(name, path);
        }
        return;
      }
      over(true);
      e.dropAction = 'copy';
    };
    for (const type of [
      'lm-dragenter',
      'lm-dragover',
      'lm-dragleave',
      'lm-drop'
    ]) {
      slot.addEventListener(type, lumino);
    }
    // Files dragged from the computer (HTML drag and drop).
    slot.addEventListener('dragover', event => {
      if (event.dataTransfer?.types.includes('Files')) {
        event.preventDefault();
        over(true);
      }
    });
    slot.addEventListener('dragleave', () => over(false));
    slot.addEventListener('drop', event => {
      const file = event.dataTransfer?.files[0];
      over(false);
      if (file) {
        event.preventDefault();
        void session.replaceInputWithUpload(name, file);
      }
    });
  }
}

/** An upload under way: a progress bar and its percentage. */
function uploadProgress(
  fraction: number,
  trans: TranslationBundle
): HTMLElement {
  const percent = Math.floor(fraction * 100);
  return h(
    'span',
    { class: 'jp-ReproServer-upload' },
    h('progress', {
      class: 'jp-ReproServer-progress',
      max: '100',
      value: String(percent),
      'aria-label': trans.__('Upload progress')
    }),
    trans.__('Uploading into the workspace… %1%', percent)
  );
}

/** An input's packed size; empty while the server has not measured it. */
function sizeText(
  size: number | null | undefined,
  trans: TranslationBundle
): string {
  if (size === undefined) {
    return '';
  }
  return size === null
    ? trans.__('not in the package')
    : formatBytes(size, trans);
}
