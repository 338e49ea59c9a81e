import type { TranslationBundle } from '@jupyterlab/translation';
import { Signal, type ISignal } from '@lumino/signaling';
import { initialAnsiState, parseAnsi, type IAnsiState } from '../model/ansi';
import type { ILogChunk, RunSession } from '../model/run';
import { button, h, input } from './dom';

/**
 * The live log of a run: stdout and stderr styled apart, ANSI colours, a header per step,
 * auto-scroll that stops while the user reads above the end, search and copy.
 */
export class LogView {
  constructor(
    private readonly _trans: TranslationBundle,
    private readonly _copy: (text: string) => void
  ) {
    const trans = _trans;
    this._search = input({
      type: 'search',
      class: 'jp-ReproServer-logSearch',
      placeholder: trans.__('Search the log'),
      'aria-label': trans.__('Search the log'),
      oninput: () => {
        // Typed here: a plain, case-insensitive search replaces JupyterLab's query, if any.
        this._query = null;
        this._renderAll();
      },
      onkeydown: (e: Event) => {
        if ((e as KeyboardEvent).key === 'Enter') {
          e.preventDefault();
          this._nextMatch((e as KeyboardEvent).shiftKey ? -1 : 1);
        }
      }
    });
    this._count = h('span', { class: 'jp-ReproServer-muted' });
    this._follow = button(
      trans.__('Follow'),
      () => {
        this._following = true;
        this._scrollToEnd();
        this._updateFollow();
      },
      {
        class: 'jp-ReproServer-follow',
        title: trans.__('Scroll to the end and follow new output')
      }
    );
    this._pre = h('pre', {
      class: 'jp-ReproServer-log',
      tabindex: 0,
      'aria-label': trans.__('Run log'),
      role: 'log'
    });
    this._pre.addEventListener('scroll', () => {
      const p = this._pre;
      this._following = p.scrollTop + p.clientHeight >= p.scrollHeight - 8;
      this._updateFollow();
    });
    this.node = h(
      'div',
      { class: 'jp-ReproServer-logView' },
      h(
        'div',
        { class: 'jp-ReproServer-row jp-ReproServer-logBar' },
        this._search,
        this._count,
        h('span', { class: 'jp-ReproServer-spacer' }),
        h(
          'span',
          { class: 'jp-ReproServer-legend jp-ReproServer-log-stdout' },
          'stdout'
        ),
        h(
          'span',
          { class: 'jp-ReproServer-legend jp-ReproServer-log-stderr' },
          'stderr'
        ),
        this._follow,
        button(trans.__('Copy'), () => this._copy(this.text), {
          title: trans.__('Copy the whole log')
        })
      ),
      this._pre
    );
    this._updateFollow();
  }

  readonly node: HTMLElement;

  /** The matches changed (a new search, new output while searching, the end of a search). */
  get matchesChanged(): ISignal<this, void> {
    return this._matchesChanged;
  }

  /** How many matches are highlighted. */
  get matchCount(): number {
    return this._pre.querySelectorAll('mark').length;
  }

  /** The position of the current match among them, or null when none is current. */
  get matchIndex(): number | null {
    return this._matchIndex >= 0 ? this._matchIndex : null;
  }

  /** The text of the current match, or null. */
  get currentMatchText(): string | null {
    return this._matchIndex >= 0
      ? (this._pre.querySelectorAll('mark')[this._matchIndex]?.textContent ??
          null)
      : null;
  }

  /**
   * Highlights the matches of a query from JupyterLab's search (Ctrl+F) and makes the first one
   * current; null ends that search. The panel's own search field is emptied meanwhile.
   */
  search(query: RegExp | null): void {
    this._query = query;
    this._search.value = '';
    this._renderAll();
  }

  /** Makes the next (1) or previous (-1) match current; its position, or null without any. */
  nextMatch(direction: 1 | -1): number | null {
    this._nextMatch(direction);
    this._matchesChanged.emit();
    return this.matchIndex;
  }

  /** The plain text of the log. */
  get text(): string {
    return (this._run?.log ?? []).map(c => c.text).join('');
  }

  setRun(run: RunSession | null): void {
    if (this._run) {
      this._run.logAppended.disconnect(this._onAppended, this);
    }
    this._run = run;
    this._following = true;
    if (run) {
      run.logAppended.connect(this._onAppended, this);
    }
    this._renderAll();
  }

  dispose(): void {
    this.setRun(null);
  }

  private _onAppended(_: RunSession, chunk: ILogChunk): void {
    if (this._matcher()) {
      this._renderAll();
      return;
    }
    this._appendChunk(chunk, null);
    if (this._following) {
      this._scrollToEnd();
    }
  }

  private _renderAll(): void {
    this._pre.replaceChildren();
    this._states = {};
    this._lastStep = null;
    const matcher = this._matcher();
    for (const chunk of this._run?.log ?? []) {
      this._appendChunk(chunk, matcher);
    }
    const marks = this._pre.querySelectorAll('mark');
    this._matchIndex = -1;
    this._count.textContent = matcher
      ? this._trans._n('%1 match', '%1 matches', marks.length)
      : '';
    if (matcher && marks.length > 0) {
      this._nextMatch(1);
    } else if (this._following) {
      this._scrollToEnd();
    }
    this._matchesChanged.emit();
  }

  /** What to highlight: JupyterLab's query, else the panel's field (plain text, any case). */
  private _matcher(): RegExp | null {
    if (this._query) {
      return this._query;
    }
    const term = this._search.value;
    return term
      ? new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i')
      : null;
  }

  private _appendChunk(chunk: ILogChunk, matcher: RegExp | null): void {
    if (chunk.step !== this._lastStep) {
      this._lastStep = chunk.step;
      const step = this._run?.steps.find(s => s.index === chunk.step);
      this._pre.append(
        h(
          'span',
          { class: 'jp-ReproServer-logStep' },
          this._trans.__(
            '── %1 ──',
            step?.id ?? this._trans.__('step %1', chunk.step)
          ) + '\n'
        )
      );
    }
    const state = (this._states[`${chunk.step}:${chunk.stream}`] ??=
      initialAnsiState());
    const span = h('span', {
      class: `jp-ReproServer-log-${chunk.stream}`
    });
    for (const segment of parseAnsi(chunk.text, state)) {
      const part = h('span', { class: segment.classes.join(' ') || undefined });
      appendHighlighted(part, segment.text, matcher);
      span.append(part);
    }
    this._pre.append(span);
  }

  private _nextMatch(direction: 1 | -1): void {
    const marks = this._pre.querySelectorAll('mark');
    if (marks.length === 0) {
      return;
    }
    marks[this._matchIndex]?.classList.remove('jp-mod-current');
    this._matchIndex =
      (this._matchIndex + direction + marks.length) % marks.length;
    const mark = marks[this._matchIndex];
    mark.classList.add('jp-mod-current');
    this._following = false;
    this._updateFollow();
    mark.scrollIntoView?.({ block: 'nearest' });
  }

  private _scrollToEnd(): void {
    this._pre.scrollTop = this._pre.scrollHeight;
  }

  private _updateFollow(): void {
    this._follow.classList.toggle('jp-mod-active', this._following);
    this._follow.setAttribute('aria-pressed', String(this._following));
  }

  private _run: RunSession | null = null;
  private _pre: HTMLPreElement;
  private _search: HTMLInputElement;
  private _count: HTMLElement;
  private _follow: HTMLButtonElement;
  private _following = true;
  private _states: Record<string, IAnsiState> = {};
  private _lastStep: number | null = null;
  private _matchIndex = -1;
  private _query: RegExp | null = null;
  private readonly _matchesChanged = new Signal<this, void>(this);
}

/** Appends `text` to `node`, wrapping the matches of `matcher` in `<mark>`. */
function appendHighlighted(
  node: HTMLElement,
  text: string,
  matcher: RegExp | null
): void {
  if (!matcher) {
    node.append(text);
    return;
  }
  // A global copy: its `lastIndex` walks this text only.
  const global = new RegExp(
    matcher.source,
    matcher.flags.includes('g') ? matcher.flags : matcher.flags + 'g'
  );
  let from = 0;
  let match: RegExpExecArray | null;
  while ((match = global.exec(text)) !== null) {
    if (match[0].length === 0) {
      // An empty match (e.g. `a*`) highlights nothing; step over it.
      global.lastIndex++;
      continue;
    }
    node.append(text.slice(from, match.index), h('mark', {}, match[0]));
    from = match.index + match[0].length;
  }
  node.append(text.slice(from));
}
