/**
 * The determinism badge of the package overview: what the latest check of each backend said
 * ("outputs identical over 2 runs", "histogram.svg differs between identical runs"), and a
 * button that runs the check.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { DeterminismCheck } from 'reproserver/contract';
import { button, h } from '../panel/dom';
import type { CompareSession } from './session';

/** The sentence of one check. */
export function checkSentence(
  check: DeterminismCheck,
  trans: TranslationBundle
): string {
  const on = check.backends.join(' + ');
  switch (check.state) {
    case 'running':
      return trans.__('Checking determinism on %1…', on);
    case 'identical':
      return trans.__('Outputs identical over 2 runs (%1)', on);
    case 'failed':
      return trans.__(
        'Determinism check failed (%1): %2',
        on,
        check.reason ?? ''
      );
    case 'varies':
      return check.varying.length === 1
        ? trans.__(
            '%1 differs between identical runs (%2)',
            check.varying[0],
            on
          )
        : trans.__(
            '%1 differ between identical runs (%2)',
            check.varying.join(', '),
            on
          );
  }
}

export class DeterminismBadge {
  constructor(
    private readonly _session: CompareSession,
    private readonly _trans: TranslationBundle,
    /** Starts a check on the backend runs go to, with the user's consent (`PackageSession`). */
    private readonly _start: () => Promise<void>,
    /** Hidden while the package has no check (the overview; History always shows the button). */
    private readonly _hideUnchecked = false
  ) {
    this.node = h('div', { class: 'jp-ReproServer-determinism' });
    _session.changed.connect(this.render, this);
    this.render();
    // After the constructor: a view that makes a badge while rendering is not re-entered.
    void Promise.resolve().then(() => _session.loadChecks());
  }

  readonly node: HTMLElement;

  dispose(): void {
    this._session.changed.disconnect(this.render, this);
  }

  render(): void {
    const trans = this._trans;
    const session = this._session;
    this.node.hidden =
      this._hideUnchecked && session.checks.length === 0 && !session.checking;
    const badges = session.checks.map(check =>
      h(
        'span',
        {
          class: `jp-ReproServer-badge jp-ReproServer-determinism-${check.state}`,
          'data-check': check.id
        },
        checkSentence(check, trans)
      )
    );
    this.node.replaceChildren(
      h('strong', {}, trans.__('Determinism')),
      ' ',
      ...(badges.length > 0
        ? badges
        : [
            h(
              'span',
              { class: 'jp-ReproServer-muted' },
              trans.__('not checked yet')
            )
          ]),
      ' ',
      button(trans.__('Check determinism'), () => void this._start(), {
        disabled: session.checking,
        title: trans.__(
          'Run the package twice unmodified and compare the outputs'
        )
      }),
      session.problem
        ? h(
            'div',
            { class: 'jp-ReproServer-error', role: 'alert' },
            session.problem
          )
        : ''
    );
  }
}
