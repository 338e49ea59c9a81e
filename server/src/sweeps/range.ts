/**
 * Numeric ranges of a sweep axis, `start:stop:step` with the stop included as `seq` does: counted
 * from the three numbers alone (a range of 1e12 values is refused without listing it), and
 * printed without float noise (0.1 + 0.2 is "0.3", not "0.30000000000000004").
 */
import { DomainError } from '../errors';
import { SWEEP_BOUNDS } from './bounds';

export interface NumericRange {
  start: number;
  stop: number;
  step: number;
}

/**
 * How many values the range has; throws a `bad-sweep` error for a range that has none or never
 * ends. Floats are compared with a tolerance so that 0:0.3:0.1 includes 0.3.
 */
export function rangeLength(range: NumericRange): number {
  const { start, stop, step } = range;
  const shown = `${start}:${stop}:${step}`;
  if (![start, stop, step].every(Number.isFinite)) {
    throw new DomainError(
      'bad-sweep',
      `The range ${shown} has a number that is not finite; give finite numbers.`
    );
  }
  if (step === 0) {
    throw new DomainError(
      'bad-sweep',
      `The range ${shown} has a step of 0; give a step that moves from start to stop.`
    );
  }
  const steps = (stop - start) / step;
  if (steps < 0) {
    throw new DomainError(
      'bad-sweep',
      `The range ${shown} moves away from its stop; use a ${step > 0 ? 'negative' : 'positive'} step.`
    );
  }
  // Within a relative tolerance of a whole number of steps, that number: (0.3 - 0) / 0.1 is
  // 2.9999999999999996, and 0.3 belongs in 0:0.3:0.1.
  const near = Math.round(steps);
  const whole =
    Math.abs(steps - near) <= 1e-9 * Math.max(1, steps)
      ? near
      : Math.floor(steps);
  return whole + 1;
}

/** The range's values as text; call only once `rangeLength` was checked against the bounds. */
export function rangeValues(range: NumericRange): string[] {
  const count = rangeLength(range);
  if (count > SWEEP_BOUNDS.valuesPerAxis) {
    throw new Error(`A range of ${count} values must be refused before this.`);
  }
  const decimals = Math.max(decimalsOf(range.start), decimalsOf(range.step));
  return Array.from({ length: count }, (_, i) =>
    formatNumber(range.start + i * range.step, decimals)
  );
}

/** The number with at most `decimals` decimals, as short as it prints (no trailing zeros). */
export function formatNumber(value: number, decimals: number): string {
  const rounded = Number(value.toFixed(Math.min(decimals, 100)));
  // -0 prints as "0", as seq does.
  return String(rounded === 0 ? 0 : rounded);
}

/** How many decimals a number is written with: 0.25 has 2, 1e-7 has 7, 3 has 0. */
export function decimalsOf(value: number): number {
  const text = String(Math.abs(value));
  const exponent = /e-(\d+)$/.exec(text);
  const mantissa = text.replace(/e[-+]\d+$/, '');
  const dot = mantissa.indexOf('.');
  const fraction = dot === -1 ? 0 : mantissa.length - dot - 1;
  return fraction + (exponent ? Number(exponent[1]) : 0);
}
