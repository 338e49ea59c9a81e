/**
 * What a sweep spec makes, counted without listing anything: the number of variants (every bound
 * checked from the axes' lengths alone), their ids, and how a field reads in messages. No Node.js
 * built-in is reachable from here, so the panel can say "N runs" before asking the server.
 */
import type {
  SweepAxis,
  SweepField,
  SweepSpec
} from '../contract/schemas/sweeps';
import { DomainError } from '../errors';
import { SWEEP_BOUNDS } from './bounds';
import { rangeLength } from './range';

const bad = (message: string) => new DomainError('bad-sweep', message);
const tooLarge = (message: string) =>
  new DomainError('sweep-too-large', message);

/** A field as people read it in messages and table headers: `arg 0:3`, `env 0:SEED`… */
export function fieldLabel(field: SweepField): string {
  switch (field.kind) {
    case 'arg':
      return `arg ${field.step}:${field.index}`;
    case 'env':
      return `env ${field.step}:${field.name}`;
    case 'input':
      return `input ${field.name}`;
    case 'cmdline':
      return `cmdline ${field.step}`;
  }
}

/**
 * The number of variants the spec makes, from the axes' lengths alone: nothing is listed, so a
 * spec asking for 1e12 is refused as cheaply as one asking for 3. Throws on any bound crossed.
 */
export function countVariants(
  spec: Pick<SweepSpec, 'axes' | 'combine'>
): number {
  const axes = spec.axes;
  if (!Array.isArray(axes) || axes.length === 0) {
    throw bad('A sweep needs at least one axis: a field and its values.');
  }
  if (axes.length > SWEEP_BOUNDS.axes) {
    throw tooLarge(
      `A sweep has at most ${SWEEP_BOUNDS.axes} axes, not ${axes.length}; vary fewer fields at once.`
    );
  }
  const lengths = axes.map(axis => axisLength(axis));
  if (spec.combine === 'zip') {
    const differing = lengths.some(length => length !== lengths[0]);
    if (differing) {
      throw bad(
        `Zipped axes must have the same number of values; these have ${lengths.join(', ')} (${axes.map(a => fieldLabel(a.field)).join(', ')}). Give each as many values, or combine them as a grid.`
      );
    }
    return lengths[0];
  }
  let total = 1;
  for (const length of lengths) {
    total *= length;
    if (total > SWEEP_BOUNDS.variants) {
      throw tooLarge(
        `This grid has ${lengths.join(' × ')} variants, more than ${SWEEP_BOUNDS.variants}; use fewer values, fewer axes, or zip them.`
      );
    }
  }
  return total;
}

/** An axis's number of values, checked against the bounds; nothing is listed. */
function axisLength(axis: SweepAxis): number {
  const label = fieldLabel(axis.field);
  const values = axis.values;
  let length: number;
  switch (values.kind) {
    case 'list':
      length = values.values.length;
      break;
    case 'files':
      length = values.paths.length;
      break;
    case 'range':
      length = rangeLength(values);
      break;
    case 'glob':
      throw bad(
        `The glob of ${label} must be resolved into files before the sweep is expanded.`
      );
  }
  if (length === 0) {
    throw bad(`The axis ${label} has no values; give at least one.`);
  }
  if (length > SWEEP_BOUNDS.valuesPerAxis) {
    throw tooLarge(
      `The axis ${label} has ${length} values, more than ${SWEEP_BOUNDS.valuesPerAxis}; give fewer.`
    );
  }
  if ((values.kind === 'files') !== (axis.field.kind === 'input')) {
    throw bad(
      axis.field.kind === 'input'
        ? `The input axis ${label} takes files (or a glob), not ${values.kind === 'range' ? 'a range' : 'a list of strings'}.`
        : `Files are values of input axes only, not of ${label}.`
    );
  }
  return length;
}

/** The variant ids of a sweep of `count` variants, in order. */
export function variantId(position: number, count: number): string {
  const width = Math.max(3, String(count).length);
  return `v${String(position + 1).padStart(width, '0')}`;
}
