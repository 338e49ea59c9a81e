/**
 * The commands of `reproserver`, by name. Kept apart from their modules and usage texts so that the
 * bundle's entry (`bundle-start.ts`) can tell a command from anything else without loading them.
 */
export const COMMAND_NAMES = [
  'build',
  'fetch',
  'inspect',
  'run',
  'serve',
  'sweep',
  'diff',
  'prepare',
  'users',
  'check-determinism'
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];

/** `word` names a command (and not, say, a property every object has). */
export function isCommandName(word: string | undefined): word is CommandName {
  return (COMMAND_NAMES as readonly (string | undefined)[]).includes(word);
}
