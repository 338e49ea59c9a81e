/**
 * Makes a Playwright installation use Debian's Chromium without downloading a browser.
 *
 *   PLAYWRIGHT_BROWSERS_PATH=DIR node scripts/seed-playwright-browsers.cjs PLAYWRIGHT_DIR [CHROMIUM]
 *
 * `python -m jupyterlab.browser_check` runs `npx playwright install chromium`, then launches
 * Playwright's own Chromium with no way to name another executable. So, in DIR, this script lays
 * out what that install would: for each browser it would download, the folder, the marker
 * Playwright checks to skip the download, and at the executable's place a link to CHROMIUM
 * (default /usr/bin/chromium). The install then has nothing to do, and the launch runs CHROMIUM.
 * PLAYWRIGHT_DIR is the folder holding node_modules/playwright-core (the one browser_check uses),
 * so the layout matches its version.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const [playwrightDir, chromium = '/usr/bin/chromium'] = process.argv.slice(2);
if (!playwrightDir || !process.env.PLAYWRIGHT_BROWSERS_PATH) {
  console.error(
    'usage: PLAYWRIGHT_BROWSERS_PATH=DIR node seed-playwright-browsers.cjs PLAYWRIGHT_DIR [CHROMIUM]'
  );
  process.exit(2);
}
if (!fs.existsSync(chromium)) {
  console.error(`seed-playwright-browsers: ${chromium} is missing.`);
  process.exit(1);
}

// Playwright's browser registry, from the copy that browser_check will run. It is internal API:
// fail loudly if a newer Playwright moved it, rather than let the install download a browser.
const core = require(
  require.resolve('playwright-core/lib/coreBundle', { paths: [playwrightDir] })
);
const registry = core.registry && core.registry.registry;
if (!registry || typeof registry.resolveBrowsers !== 'function') {
  console.error(
    'seed-playwright-browsers: this Playwright has no registry.resolveBrowsers; update this script.'
  );
  process.exit(1);
}

const seen = new Set();
for (const executable of registry.resolveBrowsers(['chromium'], {})) {
  if (!executable.directory || seen.has(executable.directory)) {
    continue;
  }
  seen.add(executable.directory);
  fs.mkdirSync(executable.directory, { recursive: true });
  // Browsers get the link; tools (ffmpeg, for videos, which browser_check does not record) none.
  const target = executable.browserName
    ? executable.executablePath('javascript')
    : undefined;
  if (target) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.rmSync(target, { force: true });
    fs.symlinkSync(chromium, target);
  }
  // The markers: "downloaded" (the install skips it) and "host requirements checked".
  fs.writeFileSync(
    path.join(executable.directory, 'INSTALLATION_COMPLETE'),
    ''
  );
  fs.writeFileSync(
    path.join(executable.directory, 'DEPENDENCIES_VALIDATED'),
    ''
  );
  console.log(
    `seeded ${executable.name}: ${target ? `${target} -> ${chromium}` : executable.directory}`
  );
}
