import { spawn } from 'node:child_process';
import { CLI } from './server-process';

/** The compiled `reproserver` command, run as users run it: its exit code and whole output. */
export function reproserver(
  args: string[],
  /** Set over the test's environment (an empty value removes the variable). */
  env: Record<string, string> = {}
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const merged = { ...process.env, ...env };
    for (const [name, value] of Object.entries(env)) {
      if (value === '') {
        delete merged[name];
      }
    }
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: merged
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', code => resolve({ code, stdout, stderr }));
  });
}
