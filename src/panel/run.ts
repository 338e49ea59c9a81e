import type { TranslationBundle } from '@jupyterlab/translation';
import type { PackageSession } from '../model/package';
import type { RunSession } from '../model/run';
import { button, formatBytes, formatDuration, h, table } from './dom';
import { LogView } from './log';

/** What the run view asks JupyterLab to do. */
export interface IRunViewActions {
  /** Opens a workspace file with JupyterLab's default viewer. */
  openFile(path: string): void;
  /** Shows a workspace folder in the file browser. */
  openFolder(path: string): void;
  copy(text: string): void;
}

/** Status words for people. */
export function statusLabel(status: string, trans: TranslationBundle): string {
  const labels: Record<string, string> = {
    queued: trans.__('Queued'),
    building: trans.__('Building the image'),
    running: trans.__('Running'),
    succeeded: trans.__('Succeeded'),
    failed: trans.__('Failed'),
    'timed-out': trans.__('Timed out'),
    'out-of-memory': trans.__('Out of memory'),
    cancelled: trans.__('Cancelled'),
    error: trans.__('Error'),
    interrupted: trans.__('Interrupted')
  };
  return labels[status] ?? status;
}

/**
 * The run on display: status, elapsed time, build progress, steps with exit codes, the failure
 * summary, the live log and the outputs.
 */
export class RunView {
  constructor(
    private readonly _session: PackageSession,
    private readonly _trans: TranslationBundle,
    private readonly _actions: IRunViewActions
  ) {
    this._head = this._makeHead();
    this._details = h('div', { class: 'jp-ReproServer-runDetails' });
    this._summary = h(
      'div',
      { class: 'jp-ReproServer-runSummary' },
      this._head.row,
      this._details
    );
    this._outputs = h('div', { class: 'jp-ReproServer-outputs' });
    this._log = new LogView(_trans, text => _actions.copy(text));
    this.node = h(
      'div',
      { class: 'jp-ReproServer-run' },
      this._summary,
      this._log.node,
      this._outputs
    );
    _session.runChanged.connect(this._onRunChanged, this);
    _session.changed.connect(this.render, this);
    this._onRunChanged(_session, _session.run);
    this._timer = setInterval(() => this._tick(), 1000);
  }

  readonly node: HTMLElement;

  /** The log of the run on display (JupyterLab's search looks into it). */
  get log(): LogView {
    return this._log;
  }

  dispose(): void {
    clearInterval(this._timer);
    this._session.runChanged.disconnect(this._onRunChanged, this);
    this._session.changed.disconnect(this.render, this);
    this._run?.changed.disconnect(this.render, this);
    this._log.dispose();
  }

  render(): void {
    const run = this._run;
    const trans = this._trans;
    this.node.classList.toggle('jp-mod-empty', !run);
    this._head.row.hidden = !run;
    if (!run) {
      this._details.replaceChildren(
        h(
          'p',
          { class: 'jp-ReproServer-muted' },
          trans.__(
            'No run yet. Change parameters or inputs if you like, then press Run.'
          )
        )
      );
      this._outputs.replaceChildren();
      return;
    }
    const status = run.status;
    this._renderHead(run);
    const parts: (HTMLElement | string)[] = [];
    if (run.build && !run.finished) {
      parts.push(this._renderBuild(run));
    } else if (status === 'building' || status === 'queued') {
      parts.push(
        h(
          'div',
          { class: 'jp-ReproServer-build' },
          h('progress', { class: 'jp-ReproServer-progress' }),
          h('span', {}, run.statusDetail ?? statusLabel(status, trans))
        )
      );
    }
    parts.push(
      h(
        'ol',
        { class: 'jp-ReproServer-runSteps', start: 0 },
        ...run.steps.map(s =>
          h(
            'li',
            {
              class: `jp-ReproServer-runStep jp-mod-${s.state}${
                s.exitCode !== null && s.exitCode !== 0 ? ' jp-mod-failed' : ''
              }`,
              'data-step': s.index
            },
            h('span', { class: 'jp-ReproServer-stepId' }, s.id),
            h(
              'span',
              { class: 'jp-ReproServer-stepState' },
              s.state === 'running'
                ? trans.__('running')
                : s.state === 'done'
                  ? trans.__(
                      'exit code %1 · %2',
                      s.exitCode ?? '?',
                      formatDuration(s.durationMs ?? 0)
                    )
                  : run.finished
                    ? trans.__('not run')
                    : trans.__('waiting')
            )
          )
        )
      )
    );
    const end = run.end;
    if (end && end.status !== 'succeeded') {
      parts.push(this._renderFailure(run));
    }
    this._details.replaceChildren(...parts);
    this._tick();
    this._renderOutputs(run);
  }

  /**
   * The run's head row (title, status, elapsed time, Cancel), made once and updated in place:
   * every log line re-renders the run, and a Cancel button replaced between the mousedown and
   * the mouseup of a click would lose that click.
   */
  private _makeHead(): IRunHead {
    const trans = this._trans;
    const head = {
      title: h('strong', {}),
      badge: h('span', { role: 'status' }),
      elapsed: h('span', { class: 'jp-ReproServer-elapsed' }),
      reconnecting: h(
        'span',
        { class: 'jp-ReproServer-warning' },
        trans.__('Connection lost, reconnecting…')
      ),
      cancel: button(trans.__('Cancel'), () => void this._session.cancel(), {
        class: 'jp-ReproServer-cancel',
        title: trans.__('Stop this run')
      })
    };
    return {
      ...head,
      row: h(
        'div',
        { class: 'jp-ReproServer-row jp-ReproServer-runHead' },
        head.title,
        head.badge,
        head.elapsed,
        head.reconnecting,
        h('span', { class: 'jp-ReproServer-spacer' }),
        head.cancel
      )
    };
  }

  private _renderHead(run: RunSession): void {
    const trans = this._trans;
    const head = this._head;
    setText(head.title, trans.__('Run %1', run.id));
    head.badge.className = `jp-ReproServer-badge jp-ReproServer-status-${run.status}`;
    setText(head.badge, statusLabel(run.status, trans));
    head.reconnecting.hidden = this._session.streamState !== 'reconnecting';
    head.cancel.hidden = run.finished;
  }

  private _renderBuild(run: RunSession): HTMLElement {
    const trans = this._trans;
    const b = run.build!;
    const phase = b.type === 'progress' || b.type === 'phase' ? b.phase : '';
    const progress = h('progress', { class: 'jp-ReproServer-progress' });
    let text = trans.__('Building the image: %1', phase);
    if (b.type === 'progress') {
      if (b.totalBytes > 0) {
        progress.max = b.totalBytes;
        progress.value = b.bytes;
        text = trans.__(
          'Building the image: %1, %2 of %3',
          phase,
          formatBytes(b.bytes, trans),
          formatBytes(b.totalBytes, trans)
        );
      } else {
        text = trans.__(
          'Building the image: %1, %2',
          phase,
          formatBytes(b.bytes, trans)
        );
      }
    }
    return h(
      'div',
      { class: 'jp-ReproServer-build' },
      progress,
      h('span', {}, text)
    );
  }

  private _renderFailure(run: RunSession): HTMLElement {
    const trans = this._trans;
    const end = run.end!;
    const step =
      end.failedStep !== undefined
        ? run.steps.find(s => s.index === end.failedStep)
        : undefined;
    const lines: (HTMLElement | string)[] = [];
    if (step) {
      lines.push(
        h(
          'div',
          {},
          trans.__(
            'Step %1 ended with exit code %2.',
            step.id,
            step.exitCode ?? '?'
          )
        )
      );
    } else {
      lines.push(h('div', {}, statusLabel(end.status, trans) + '.'));
    }
    if (end.reason) {
      lines.push(h('div', {}, end.reason));
    }
    const tail = step ? run.tail(step.index) : '';
    if (tail) {
      lines.push(
        h(
          'div',
          { class: 'jp-ReproServer-muted' },
          trans.__('End of its log:')
        ),
        h('pre', { class: 'jp-ReproServer-tail' }, tail)
      );
    }
    return h(
      'div',
      { class: 'jp-ReproServer-failure', role: 'alert' },
      ...lines
    );
  }

  private _renderOutputs(run: RunSession): void {
    const trans = this._trans;
    const session = this._session;
    if (!run.finished && run.outputs.length === 0) {
      this._outputs.replaceChildren();
      return;
    }
    const saved = session.saved(run.id);
    const savedPath = (o: (typeof run.outputs)[number]) =>
      saved ? savedFile(saved, o) : undefined;
    const rows = run.outputs.map(o => {
      const target = savedPath(o);
      return h(
        'tr',
        { class: 'jp-ReproServer-output', 'data-output': o.name },
        h(
          'td',
          {},
          target
            ? h(
                'a',
                {
                  href: '#',
                  class: 'jp-ReproServer-link',
                  title: trans.__('Open %1', target),
                  onclick: (e: Event) => {
                    e.preventDefault();
                    this._actions.openFile(target);
                  }
                },
                o.name
              )
            : o.name
        ),
        h('td', {}, h('code', {}, o.path)),
        h(
          'td',
          {},
          o.kind === 'declared' ? trans.__('declared') : trans.__('changed')
        ),
        h('td', { class: 'jp-ReproServer-size' }, formatBytes(o.size, trans))
      );
    });
    const parts: (HTMLElement | string)[] = [h('h3', {}, trans.__('Outputs'))];
    if (rows.length > 0) {
      parts.push(
        table(
          [
            trans.__('Name'),
            trans.__('Path in the experiment'),
            trans.__('Kind'),
            trans.__('Size')
          ],
          rows
        )
      );
    } else if (run.finished) {
      parts.push(
        h(
          'p',
          { class: 'jp-ReproServer-muted' },
          trans.__('This run produced no outputs.')
        )
      );
    }
    if (run.missingOutputs.length > 0) {
      parts.push(
        h(
          'ul',
          { class: 'jp-ReproServer-missing' },
          ...run.missingOutputs.map(m =>
            h('li', {}, trans.__('%1 is missing: %2', m.name, m.reason))
          )
        )
      );
    }
    if (run.finished && run.outputs.length > 0) {
      parts.push(
        h(
          'div',
          { class: 'jp-ReproServer-row' },
          saved
            ? h(
                'span',
                { class: 'jp-ReproServer-savedTo' },
                trans.__('Saved in %1', saved.folder)
              )
            : button(
                trans.__('Save to workspace'),
                () => void session.save(run.id)
              ),
          saved
            ? button(trans.__('Open folder'), () =>
                this._actions.openFolder(saved.folder)
              )
            : '',
          saved && saved.skipped.length > 0
            ? h(
                'span',
                { class: 'jp-ReproServer-muted' },
                trans.__('Not overwritten: %1', saved.skipped.join(', '))
              )
            : ''
        )
      );
    }
    this._outputs.replaceChildren(...parts);
  }

  private _onRunChanged(_: PackageSession, run: RunSession | null): void {
    this._run?.changed.disconnect(this.render, this);
    this._run = run;
    run?.changed.connect(this.render, this);
    this._log.setRun(run);
    this.render();
  }

  private _tick(): void {
    const run = this._run;
    if (!run || run.startedAt === null) {
      return;
    }
    const end = run.finished ? (run.endedAt ?? Date.now()) : Date.now();
    this._head.elapsed.textContent = formatDuration(
      Math.max(0, end - run.startedAt)
    );
  }

  private _run: RunSession | null = null;
  private _summary: HTMLElement;
  private _outputs: HTMLElement;
  private _head: IRunHead;
  private _details: HTMLElement;
  private _log: LogView;
  private _timer: ReturnType<typeof setInterval>;
}

/** The run head's parts that change with the run. */
interface IRunHead {
  row: HTMLElement;
  title: HTMLElement;
  badge: HTMLElement;
  elapsed: HTMLElement;
  reconnecting: HTMLElement;
  cancel: HTMLButtonElement;
}

/** Sets a node's text only when it differs, so that unchanged text is left alone. */
function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

/**
 * The workspace file an output was saved to (or already existed at): declared outputs by their
 * name, other changed files under `changed/` with their path in the experiment, as the server
 * writes them.
 */
export function savedFile(
  saved: { folder: string; files: string[]; skipped: string[] },
  output: { name: string; path: string; kind: 'declared' | 'changed' }
): string | undefined {
  const relative =
    output.kind === 'declared'
      ? output.name.replace(/[/\\\0]/g, '_').replace(/^\.\.?$/, '_$&')
      : 'changed/' + output.path.replace(/^\/+/, '');
  const wanted = `${saved.folder.replace(/\/+$/, '')}/${relative}`;
  return [...saved.files, ...saved.skipped].find(f => f === wanted);
}
