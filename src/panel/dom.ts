/**
 * Small DOM helpers for the panel's views. No React: the views are plain DOM updated in place
 * (typing never loses focus), drawn with the classes of JupyterLab's `@jupyterlab/ui-components`
 * (`button`, `input`, `table` below), so the panel looks and themes like JupyterLab's own.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
// A pure module of the server, bundled as it is.
import { formatBytes as formatByteSize } from 'reproserver/contract';

type Child = Node | string | null | undefined | false;

/** Attributes: `class`, `on<event>` handlers, other attributes as strings. */
export type Attrs = Record<
  string,
  string | number | boolean | null | undefined | ((event: Event) => void)
>;

/** Creates an element with attributes, event handlers (`onclick`…) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      node.className = String(value);
    } else if (key === 'value' && 'value' in node) {
      (node as unknown as { value: string }).value = String(value);
    } else if (key === 'checked' && 'checked' in node) {
      (node as unknown as { checked: boolean }).checked = Boolean(value);
    } else if (value === true) {
      node.setAttribute(key, '');
    } else {
      node.setAttribute(key, String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child);
  }
  return node;
}

/**
 * `512 bytes`, `2.0 KiB`, `1.2 MiB`: the wording of the server and its CLI (one function for
 * both), with the count of bytes translated.
 */
export function formatBytes(bytes: number, trans: TranslationBundle): string {
  return formatByteSize(bytes, {
    bytes: count => trans._n('%1 byte', '%1 bytes', count)
  });
}

/** `1:05` / `1:02:03` / `4.2 s` durations. */
export function formatDuration(ms: number): string {
  if (ms < 10000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const total = Math.floor(ms / 1000);
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600);
  const pad = (n: number) => String(n).padStart(2, '0');
  return hours > 0 ? `${hours}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/**
 * How a button stands out, with JupyterLab's own classes (`@jupyterlab/ui-components`' `Button`
 * and the dialogs' `jp-mod-styled` buttons): `accept` for the one main action of a view,
 * `minimal` for small icon-like actions (×), `default` for the others.
 */
export type ButtonVariant = 'default' | 'accept' | 'minimal';

const BUTTON_CLASSES: Record<ButtonVariant, string> = {
  default: 'jp-Button jp-mod-small',
  accept: 'jp-Button jp-mod-small jp-mod-styled jp-mod-accept',
  minimal: 'jp-Button jp-mod-small jp-mod-minimal'
};

/**
 * A button as JupyterLab draws its own (the classes of ui-components' `Button`), made with the
 * DOM rather than React: the panel's views update nodes in place, and a button acts on `click`
 * (not on mousedown as `ToolbarButton` does), so a field being edited commits its change on
 * blur before the click is handled.
 */
export function button(
  label: string,
  onclick: () => void,
  attrs: Attrs = {},
  variant: ButtonVariant = 'default'
): HTMLButtonElement {
  const cls = [BUTTON_CLASSES[variant], 'jp-ReproServer-button', attrs.class]
    .filter(Boolean)
    .join(' ');
  return h('button', { type: 'button', ...attrs, class: cls, onclick }, label);
}

/** A text or number field with JupyterLab's look (`jp-mod-styled`) and the panel's class. */
export function input(attrs: Attrs = {}): HTMLInputElement {
  const cls = ['jp-mod-styled jp-ReproServer-input', attrs.class]
    .filter(Boolean)
    .join(' ');
  return h('input', { ...attrs, class: cls });
}

/**
 * A table with the look of ui-components' `Table` (`jp-sortable-table`, its header and rows),
 * without its sorting: the panel's tables are short and keep the order of the package or of
 * time. `rows` are `<tr>`s; each gets the row class of that table.
 */
export function table(
  headers: string[],
  rows: HTMLTableRowElement[],
  attrs: Attrs = {}
): HTMLTableElement {
  const cls = ['jp-sortable-table jp-ReproServer-table', attrs.class]
    .filter(Boolean)
    .join(' ');
  for (const row of rows) {
    row.classList.add('jp-sortable-table-tr');
  }
  return h(
    'table',
    { ...attrs, class: cls },
    h(
      'thead',
      {},
      h(
        'tr',
        { class: 'jp-sortable-table-tr' },
        ...headers.map(text => h('th', {}, text))
      )
    ),
    h('tbody', {}, ...rows)
  );
}
