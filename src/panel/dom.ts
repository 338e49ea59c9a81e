/** Small DOM helpers for the panel's views (plain DOM, no framework). */
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

/** A button with the panel's look. */
export function button(
  label: string,
  onclick: () => void,
  attrs: Attrs = {}
): HTMLButtonElement {
  const cls = ['jp-ReproServer-button', attrs.class ?? ''].join(' ').trim();
  return h('button', { type: 'button', ...attrs, class: cls, onclick }, label);
}
