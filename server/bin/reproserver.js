#!/usr/bin/env node
/**
 * The `reproserver` command of the npm package, and `npx reproserver` in a clone: it runs the
 * compiled CLI (dist/cli/main.js). This file is kept in git, unlike dist/, because npm links a
 * package's command only if its file exists at install time, and in a fresh clone `npm ci` runs
 * before the build: pointed at dist/ directly, `npx reproserver` found nothing.
 */
'use strict';

const path = require('node:path');
const fs = require('node:fs');

const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(cli)) {
  console.error(
    `reproserver: the server is not built (${cli} is missing): run \`npm run build\` in the repository.`
  );
  process.exit(127);
}
require(cli);
