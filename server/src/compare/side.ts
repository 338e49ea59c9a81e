/**
 * One of the two compared runs, whatever holds it: a run of the records (outputs in the blob
 * store, its event log) or an output folder written by `reproserver run --out`.
 */
import type { Readable } from 'node:stream';
import type { RunFacts } from './facts';

export interface SideOutput {
  name: string;
  size: number;
  sha256: string;
}

export interface RunSide {
  /** How diffs name it: the run id, or the folder. */
  label: string;
  facts: RunFacts;
  outputs: SideOutput[];
  open(output: SideOutput): Promise<Readable>;
  /**
   * The run's log as text (what its steps printed, each step headed by its command line), at
   * most `maxBytes` (null when longer); undefined when the side has no log (an output folder).
   */
  logText?(maxBytes: number): Promise<{ text: Buffer | null; size: number }>;
}
