/**
 * What jsdom lacks and Lumino needs at import time (JupyterLab's own test setup adds the same).
 * Import this before `@lumino/widgets`.
 */
const g = globalThis as unknown as Record<string, unknown>;
if (typeof g.DragEvent === 'undefined') {
  g.DragEvent = class DragEvent extends MouseEvent {};
}
export {};
