/**
 * The Vega-Lite spec of a sweep's plot: one chosen column (a metric or the duration) against one
 * axis, a point per variant that has a value, joined by a line when the axis is numeric; with
 * several axes, one colour per combination of the others. Rendered by JupyterLab's own Vega-Lite
 * renderer (`VEGALITE_MIME`), so it looks and exports like any plot in JupyterLab.
 */
import type { SweepVariantRow } from 'reproserver/contract';
import { cellValue, type IColumn } from './table';

/**
 * The Vega-Lite MIME type JupyterLab's `@jupyterlab/vega5-extension` renders, from JupyterLab
 * 4.0.0 (which registers vegalite v3, v4 and v5) to the newest.
 */
export const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';

/** One point of the plot. */
interface IPoint {
  [key: string]: string | number;
  x: string | number;
  y: number;
  variant: string;
  series: string;
}

/** The words of the plot, translated by the caller. */
export interface IPlotLabels {
  /** The tooltip's title of a variant's id. */
  variant: string;
  /** The tooltip's title of the other axes' values. */
  others: string;
  /** The plot's description, from the titles of y and x. */
  description(y: string, x: string): string;
}

/** At most this many points are drawn: the bound of a sweep's variants. */
const MAX_POINTS = 10000;

/** The spec, or null when no variant has a value to draw. */
export function plotSpec(
  rows: readonly SweepVariantRow[],
  x: IColumn,
  y: IColumn,
  others: readonly IColumn[],
  labels: IPlotLabels
): Record<string, unknown> | null {
  const points: IPoint[] = [];
  for (const row of rows) {
    const xv = cellValue(row, x);
    const yv = cellValue(row, y);
    if (xv === null || typeof yv !== 'number' || !Number.isFinite(yv)) {
      continue;
    }
    const seconds = y.of.kind === 'duration';
    points.push({
      x: xv,
      y: seconds ? yv / 1000 : yv,
      variant: row.id,
      series: others
        .map(c => `${c.header}=${cellValue(row, c) ?? ''}`)
        .join(', ')
    });
    if (points.length >= MAX_POINTS) {
      break;
    }
  }
  if (points.length === 0) {
    return null;
  }
  const yTitle = y.of.kind === 'duration' ? `${y.header} (s)` : y.header;
  const encoding: Record<string, unknown> = {
    x: {
      field: 'x',
      type: x.numeric ? 'quantitative' : 'nominal',
      title: x.header,
      ...(x.numeric ? { scale: { zero: false } } : { sort: null })
    },
    y: { field: 'y', type: 'quantitative', title: yTitle },
    tooltip: [
      { field: 'variant', type: 'nominal', title: labels.variant },
      {
        field: 'x',
        type: x.numeric ? 'quantitative' : 'nominal',
        title: x.header
      },
      { field: 'y', type: 'quantitative', title: yTitle },
      ...(others.length > 0
        ? [{ field: 'series', type: 'nominal', title: labels.others }]
        : [])
    ]
  };
  if (others.length > 0) {
    encoding.color = {
      field: 'series',
      type: 'nominal',
      title: others.map(c => c.header).join(', ')
    };
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: labels.description(yTitle, x.header),
    width: 420,
    height: 240,
    data: { values: points },
    mark: x.numeric ? { type: 'line', point: true } : { type: 'point' },
    encoding
  };
}
