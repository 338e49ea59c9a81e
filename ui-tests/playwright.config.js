/**
 * Galata configuration: a real JupyterLab from the project's .venv, on a port of its own (so a
 * running start command does not clash), driven through Debian's Chromium. Browsers are never
 * downloaded.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = Number(process.env.REPROSERVER_UI_PORT || 8898);
// A second JupyterLab whose sandbox isolates neither files nor network: proot with its
// confinement turned off, as on a kernel without Landlock (weak-isolation.spec.ts).
const weakPort = Number(process.env.REPROSERVER_UI_WEAK_PORT || port + 1);
const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// The stand-in data repositories of import.spec.ts: JupyterLab's companion server trusts their CA
// and knows their address from its start (import-service.js).
Object.assign(
  process.env,
  require('./import-service').importServiceEnv(
    Number(process.env.REPROSERVER_UI_IMPORT_PORT || port + 7)
  )
);

module.exports = {
  ...baseConfig,
  // One JupyterLab and one Docker engine on two cores: tests run one at a time.
  workers: 1,
  retries: 0,
  // Needs the JupyterLab that scripts/binder-check.sh sets up (playwright.binder.config.js).
  testIgnore: '**/binder*.spec.ts',
  // Screenshots keep their names whatever project takes them (not `<name>-<project>-linux.png`).
  snapshotPathTemplate:
    '{testDir}/{testFilePath}-snapshots/{arg}-{platform}{ext}',
  projects: [
    {
      name: 'lab',
      testIgnore: ['**/binder*.spec.ts', '**/weak-isolation.spec.ts']
    },
    {
      name: 'weak-isolation',
      testMatch: '**/weak-isolation.spec.ts',
      use: { baseURL: `http://127.0.0.1:${weakPort}` }
    }
  ],
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: [
    {
      command: 'jupyter lab --config jupyter_server_test_config.py',
      url: `http://127.0.0.1:${port}/lab`,
      timeout: 120000,
      reuseExistingServer: false
    },
    {
      command: 'jupyter lab --config jupyter_server_test_config.py',
      url: `http://127.0.0.1:${weakPort}/lab`,
      timeout: 120000,
      reuseExistingServer: false,
      env: {
        ...process.env,
        REPROSERVER_UI_PORT: String(weakPort),
        REPROSERVER_SANDBOX: 'proot',
        REPROSERVER_CONFINE: 'off'
      }
    }
  ]
};
