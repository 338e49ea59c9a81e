import { Widget } from '@lumino/widgets';
import type { ReproServerClient } from '../api/client';
import { ReproServerError } from '../api/client';

/**
 * The ReproServer panel for one package. For now it shows the package and whether the companion
 * server and an execution backend answer; inspection, editing and runs build on it.
 */
export class RpzPanel extends Widget {
  constructor(
    path: string,
    private readonly _client: ReproServerClient
  ) {
    super();
    this.addClass('jp-ReproServer-panel');
    this._path = path;
    this._render();
    void this.refresh();
  }

  /** Follows a rename of the package file. */
  setPath(path: string): void {
    this._path = path;
    this._render();
  }

  /** Asks the server again whether it answers and which backends work. */
  async refresh(): Promise<void> {
    try {
      const [health, backends] = await Promise.all([
        this._client.health(),
        this._client.backends()
      ]);
      const usable = backends.backends.filter(b => b.available);
      this._status = {
        kind: 'ok',
        text: `Companion server ${health.version} is running.`,
        details: backends.backends.map(
          b =>
            `${b.name}: ${b.available ? 'available' : 'unavailable'} — ${b.detail}`
        ),
        warning:
          usable.length === 0
            ? 'No backend can run experiments here.'
            : undefined
      };
    } catch (error) {
      this._status = {
        kind: 'error',
        text:
          error instanceof ReproServerError
            ? error.message
            : `Unexpected error: ${String(error)}`,
        details: []
      };
    }
    this._render();
  }

  private _render(): void {
    const node = this.node;
    node.replaceChildren();
    const title = document.createElement('h2');
    title.className = 'jp-ReproServer-title';
    title.textContent = this._path.split('/').pop() ?? this._path;
    const path = document.createElement('div');
    path.className = 'jp-ReproServer-path';
    path.textContent = this._path;
    const status = document.createElement('div');
    status.className = `jp-ReproServer-status jp-ReproServer-status-${this._status.kind}`;
    status.setAttribute('role', 'status');
    status.textContent = this._status.text;
    node.append(title, path, status);
    if (this._status.warning) {
      const warning = document.createElement('div');
      warning.className = 'jp-ReproServer-warning';
      warning.textContent = this._status.warning;
      node.append(warning);
    }
    if (this._status.details.length > 0) {
      const list = document.createElement('ul');
      list.className = 'jp-ReproServer-backends';
      for (const line of this._status.details) {
        const item = document.createElement('li');
        item.textContent = line;
        list.append(item);
      }
      node.append(list);
    }
  }

  private _path: string;
  private _status: {
    kind: 'pending' | 'ok' | 'error';
    text: string;
    details: string[];
    warning?: string;
  } = {
    kind: 'pending',
    text: 'Contacting the companion server…',
    details: []
  };
}
