/**
 * Entry point of the companion server as the Python package ships it (bundled by
 * scripts/bundle-server.mjs into jupyterlab_reproserver/server/bin/reproserver.js). It runs before
 * the server's own code, for the two things a bundle outside the source tree needs:
 * - the static helper `rpz-exec` sits in ../helpers, where the server's helperPath() does not look
 *   (it looks beside the compiled sources): name it through REPROSERVER_HELPER, unless the user
 *   already chose one;
 * - better-sqlite3 is a native module compiled for one Node.js ABI: under another Node.js it fails
 *   with a message about NODE_MODULE_VERSION deep in a request; say at start, in plain words,
 *   which Node.js this copy needs.
 */
'use strict';

const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

if (!process.env.REPROSERVER_HELPER) {
  process.env.REPROSERVER_HELPER = join(root, 'helpers', 'rpz-exec');
}

checkNativeModule();

require('../server/dist/cli/main.js');

/** Exits with a clear message when better-sqlite3 cannot load in this Node.js. */
function checkNativeModule() {
  const { builtWith } = JSON.parse(
    readFileSync(join(root, 'package.json'), 'utf8')
  );
  // Same ABI and machine: the module loads (the bundler checked it there); no need for a probe.
  if (
    !builtWith ||
    (builtWith.modules === process.versions.modules &&
      builtWith.platform === process.platform &&
      builtWith.arch === process.arch)
  ) {
    return;
  }
  try {
    const Database = require('better-sqlite3');
    new Database(':memory:').close();
  } catch (error) {
    console.error(
      `reproserver: this copy of the companion server was built for Node.js ${builtWith.node} ` +
        `(ABI ${builtWith.modules}, ${builtWith.platform}-${builtWith.arch}), but runs on Node.js ` +
        `${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch}), ` +
        `where its native module better-sqlite3 does not load. Put a Node.js ` +
        `${builtWith.node.replace(/^v(\d+).*/, '$1')}.x first on PATH (or name it in ` +
        'REPROSERVER_NODE), or reinstall jupyterlab-reproserver built from source with this ' +
        `Node.js.\n  (${String(error && error.message).split('\n')[0]})`
    );
    process.exit(1);
  }
}
