import type { TranslationBundle } from '@jupyterlab/translation';
import {
  type RunEdits,
  type RunRecord,
  joinCommandLine
} from 'reproserver/contract';
import type { PackageSession } from '../model/package';
import { button, h, table } from './dom';
import { statusLabel } from './run';
import { DeterminismBadge } from '../compare/badge';
import type { CompareSession } from '../compare/session';
import { CompareView } from '../compare/view';

/** What a run changed, in short phrases ("run0: argument 3 = 2", "input arg2 replaced"). */
export function describeEdits(
  edits: RunEdits,
  stepIds: string[],
  trans: TranslationBundle
): string[] {
  const id = (i: number) => stepIds[i] ?? String(i);
  const out: string[] = [];
  if (edits.steps) {
    out.push(trans.__('steps %1', edits.steps.map(id).join(', ')));
  }
  for (const e of edits.stepEdits ?? []) {
    if (e.argv) {
      out.push(trans.__('%1: %2', id(e.step), joinCommandLine(e.argv)));
    }
    for (const a of e.args ?? []) {
      out.push(trans.__('%1: argument %2 = %3', id(e.step), a.index, a.value));
    }
    for (const [name, value] of Object.entries(e.setEnv ?? {})) {
      out.push(trans.__('%1: %2=%3', id(e.step), name, value));
    }
    for (const name of e.unsetEnv ?? []) {
      out.push(trans.__('%1: %2 removed', id(e.step), name));
    }
  }
  for (const input of edits.inputs ?? []) {
    out.push(trans.__('input %1 replaced', input.name));
  }
  return out;
}

/** Earlier runs of the package: open, re-run with the same edits, copy as command. */
export class HistoryView {
  constructor(
    private readonly _session: PackageSession,
    private readonly _trans: TranslationBundle,
    private readonly _actions: {
      copy(text: string): void;
      /** After a run is opened or restarted. */
      showRun(): void;
      /** Saves a run's edits as a run file (`runfile/save.ts`); no button without it. */
      saveRunFile?(record: RunRecord): void;
    }
  ) {
    this.node = h('div', { class: 'jp-ReproServer-history' });
    _session.changed.connect(this.render, this);
    this.render();
  }

  readonly node: HTMLElement;

  dispose(): void {
    this._session.changed.disconnect(this.render, this);
    this._disposeCompare();
  }

  /**
   * The package's comparisons (two runs picked here) and determinism checks: made once the
   * package is read, again if it is another package.
   */
  private _compareParts(): {
    compare: CompareSession;
    view: CompareView;
    badge: DeterminismBadge;
  } | null {
    const compare = this._session.compare;
    if (!compare) {
      return null;
    }
    if (this._compare?.compare !== compare) {
      this._disposeCompare();
      this._compare = {
        compare,
        view: new CompareView(compare, this._trans),
        badge: new DeterminismBadge(compare, this._trans, () =>
          this._session.checkDeterminism()
        )
      };
      compare.changed.connect(this.render, this);
    }
    return this._compare;
  }

  private _disposeCompare(): void {
    if (this._compare) {
      this._compare.compare.changed.disconnect(this.render, this);
      this._compare.view.dispose();
      this._compare.badge.dispose();
      this._compare = null;
    }
  }

  private _compare: {
    compare: CompareSession;
    view: CompareView;
    badge: DeterminismBadge;
  } | null = null;

  render(): void {
    const trans = this._trans;
    const session = this._session;
    const runs = session.history;
    const stepIds = session.details?.model.runs.map(r => r.id) ?? [];
    if (runs.length === 0) {
      this.node.replaceChildren(
        h(
          'p',
          { class: 'jp-ReproServer-muted' },
          trans.__('No earlier runs of this package.')
        ),
        // The determinism check needs no earlier run.
        this._compareParts()?.badge.node ?? ''
      );
      return;
    }
    const current = session.run?.id;
    const parts = this._compareParts();
    const picked = parts?.compare.picked ?? [];
    this.node.replaceChildren(
      parts
        ? h(
            'div',
            { class: 'jp-ReproServer-compareBar' },
            button(
              picked.length === 2
                ? trans.__('Compare the two picked runs')
                : trans.__('Pick two runs to compare'),
              () => void parts.compare.compare(),
              { disabled: picked.length !== 2 }
            ),
            parts.badge.node
          )
        : '',
      table(
        [
          trans.__('Started'),
          trans.__('Status'),
          trans.__('Backend'),
          trans.__('Changes'),
          ''
        ],
        runs.map(r => {
          const changes = describeEdits(r.edits, stepIds, trans);
          return h(
            'tr',
            {
              class:
                'jp-ReproServer-historyRun' +
                (r.id === current ? ' jp-mod-current' : ''),
              'data-run': r.id
            },
            h('td', { title: r.id }, new Date(r.createdAt).toLocaleString()),
            h(
              'td',
              {},
              h(
                'span',
                {
                  class: `jp-ReproServer-badge jp-ReproServer-status-${r.status}`
                },
                statusLabel(r.status, trans)
              )
            ),
            h('td', { class: 'jp-ReproServer-runBackend' }, r.backend ?? ''),
            h(
              'td',
              {},
              changes.length > 0
                ? changes.join('; ')
                : h(
                    'span',
                    { class: 'jp-ReproServer-muted' },
                    trans.__('as recorded')
                  )
            ),
            h(
              'td',
              { class: 'jp-ReproServer-actions' },
              button(trans.__('Open'), () => {
                session.openRun(r);
                this._actions.showRun();
              }),
              button(trans.__('Re-run'), () => {
                void session.rerun(r);
                this._actions.showRun();
              }),
              button(trans.__('Copy as command'), () =>
                this._actions.copy(session.commandFor(r))
              ),
              this._actions.saveRunFile
                ? button(trans.__('Save as run file'), () =>
                    this._actions.saveRunFile?.(r)
                  )
                : '',
              parts
                ? button(
                    picked.includes(r.id)
                      ? trans.__(
                          'Picked (%1)',
                          picked.indexOf(r.id) === 0 ? 'A' : 'B'
                        )
                      : trans.__('Pick to compare'),
                    () => parts.compare.toggle(r.id),
                    {
                      'aria-pressed': picked.includes(r.id) ? 'true' : 'false',
                      class: 'jp-ReproServer-pick'
                    }
                  )
                : ''
            )
          );
        })
      ),
      parts ? parts.view.node : ''
    );
  }
}
