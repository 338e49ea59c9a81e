import type { TranslationBundle } from '@jupyterlab/translation';

/**
 * This extension's version, as in its package.json (the labextension's metadata carries the same
 * one). Written here because the compiled sources cannot import a file outside `src/`; a unit test
 * keeps the two equal.
 */
export const EXTENSION_VERSION = '0.1.0';

/**
 * The sentence saying that the companion server (`GET /api/version`) and this extension differ
 * in version, or null when they match. They are released together and talk through an API that
 * changes with them, so any difference is worth saying.
 */
export function versionMismatch(
  serverVersion: string,
  trans: TranslationBundle,
  extensionVersion: string = EXTENSION_VERSION
): string | null {
  if (serverVersion.trim() === extensionVersion) {
    return null;
  }
  return trans.__(
    'The ReproServer companion server is version %1 but this JupyterLab extension is version %2; they are made to work at the same version. Install the same version of both, then restart JupyterLab.',
    serverVersion,
    extensionVersion
  );
}
