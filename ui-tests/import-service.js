/**
 * The local stand-in for the DOI resolver and the data repositories, as the UI tests' JupyterLab
 * sees it: its companion server must trust the stand-in's CA and know its address from the start,
 * so both are fixed here, before JupyterLab starts; `tests/import.spec.ts` then serves on that
 * port with these certificates (`server/test/helpers/import-server.ts`). The CA is made once per
 * test run (the workers inherit the environment) with openssl, like the server tests' own.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

/** A CA and a certificate for 127.0.0.1 signed by it, as `makeCertificates` writes them. */
function makeCertificates(dir) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  const openssl = args =>
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl([
    'req',
    '-x509',
    ...ec,
    '-nodes',
    '-days',
    '2',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=reproserver UI test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign'
  ]);
  openssl([
    'req',
    ...ec,
    '-nodes',
    '-keyout',
    'leaf.key',
    '-out',
    'leaf.csr',
    '-subj',
    '/CN=127.0.0.1'
  ]);
  fs.writeFileSync(
    path.join(dir, 'leaf.ext'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'
  );
  openssl([
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    'leaf.pem',
    '-extfile',
    'leaf.ext'
  ]);
}

/**
 * The variables that point JupyterLab's companion server at the stand-in on `port`; the folder
 * of its certificates is `REPROSERVER_UI_IMPORT_CERTS`.
 */
function importServiceEnv(port) {
  let dir = process.env.REPROSERVER_UI_IMPORT_CERTS;
  if (!dir) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reproserver-ui-import-ca-'));
    makeCertificates(dir);
  }
  const base = `https://127.0.0.1:${port}`;
  return {
    REPROSERVER_UI_IMPORT_CERTS: dir,
    REPROSERVER_UI_IMPORT_PORT: String(port),
    NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'),
    REPROSERVER_DOI_RESOLVER_URL: `${base}/doi`,
    REPROSERVER_ZENODO_URL: `${base}/zenodo`,
    REPROSERVER_OSF_URL: `${base}/osf`,
    REPROSERVER_OSF_API_URL: `${base}/osf-api`,
    REPROSERVER_FIGSHARE_URL: `${base}/figshare`,
    REPROSERVER_FIGSHARE_API_URL: `${base}/figshare-api`
  };
}

module.exports = { importServiceEnv };
