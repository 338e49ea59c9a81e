/**
 * Splits command-line arguments into positionals and `--name value` / `--name=value` flags.
 * Flags listed in `booleans` take no value. Repeated flags keep every value, in order.
 */
export function parseArgs(
  args: string[],
  booleans: string[] = []
): { positionals: string[]; flags: Record<string, string[]> } {
  const positionals: string[] = [];
  const flags: Record<string, string[]> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else if (booleans.includes(name)) {
      value = 'true';
    } else {
      if (i + 1 >= args.length) {
        throw new Error(`The option --${name} needs a value.`);
      }
      value = args[++i];
    }
    (flags[name] ??= []).push(value);
  }
  return { positionals, flags };
}

/** The last value given for each flag, for flags that may appear once. */
export function lastValues(
  flags: Record<string, string[]>
): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(flags).map(([k, v]) => [k, v[v.length - 1]])
  );
}
