/**
 * A local HTTPS server standing in for the data repositories and the DOI resolver, for the import
 * tests (no network reaches the test machines). Its certificate is signed by a CA made at start
 * with openssl; the processes under test trust it through `NODE_EXTRA_CA_CERTS` (`caFile`), as a
 * user's Node.js would trust a corporate CA. A second server, whose CA nobody trusts, answers the
 * same paths (`untrustedBase`) for the TLS failure.
 *
 * Each service answers under its own prefix, in its documented API format, from the fixtures in
 * `test/fixtures/import/` (see its README): `/doi` (Handle API), `/zenodo`, `/osf` and `/osf-api`,
 * `/figshare` and `/figshare-api`; Dataverse at the root (`/api/datasets/…`, `/api/access/…`),
 * as an installation is. `env()` gives the variables that point the product at them.
 *
 * Files (real packages from `.state/examples/`, or small text files):
 *   /files/NAME        the file, with ETag, Accept-Ranges and Range requests (206)
 *   /cut/NAME          the first request is cut after half the bytes; later ones as /files/
 *   /slow/NAME         in 16 parts, 60 ms apart
 *   /stall/NAME        64 KiB, then silence until the client leaves
 *   /huge/NAME         announces 1 TiB, then silence
 *   /redirect/N/NAME   N redirects (302), then /files/NAME
 *   /to-http/NAME      a redirect to http://
 * Every request is recorded (`requests`), Range header included.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EXAMPLES_DIR } from './examples';

const FIXTURES = resolve(__dirname, '..', 'fixtures', 'import');
/** The packages the fixtures name. */
const PACKAGES = [
  'shell-pipeline',
  'two-steps',
  'slow-printer',
  'links',
  'python-options'
];
const TEXT_FILES: Record<string, string> = {
  'README.md': 'Hello world\n',
  'data.csv': 'x,y\n1,2\n3,4\n5,6\n7,8\n9,0\n',
  'notes.txt': 'note\n',
  'not-a-package.rpz': 'This is a text file, not a ReproZip package.\n'
};

export interface RecordedRequest {
  path: string;
  range: string | undefined;
}

export interface ImportServer {
  /** `https://127.0.0.1:PORT` */
  base: string;
  /** The same paths, served with a certificate nobody trusts. */
  untrustedBase: string;
  /** The CA certificate to trust (`NODE_EXTRA_CA_CERTS`). */
  caFile: string;
  requests: RecordedRequest[];
  /** The environment pointing the product's services at this server. */
  env(): Record<string, string>;
  /** The bytes' facts of an example package. */
  package(name: string): { path: string; size: number; sha256: string };
  close(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA and a certificate for 127.0.0.1 signed by it, in `dir`. */
export function makeCertificates(dir: string, prefix = ''): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-nodes',
      '-days',
      '2',
      '-keyout',
      `${prefix}ca.key`,
      '-out',
      `${prefix}ca.pem`,
      '-subj',
      `/CN=reproserver test CA ${prefix}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign'
    ],
    dir
  );
  openssl(
    [
      'req',
      ...ec,
      '-nodes',
      '-keyout',
      `${prefix}leaf.key`,
      '-out',
      `${prefix}leaf.csr`,
      '-subj',
      '/CN=127.0.0.1'
    ],
    dir
  );
  writeFileSync(
    join(dir, `${prefix}leaf.ext`),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${prefix}leaf.csr`,
      '-CA',
      `${prefix}ca.pem`,
      '-CAkey',
      `${prefix}ca.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${prefix}leaf.pem`,
      '-extfile',
      `${prefix}leaf.ext`
    ],
    dir
  );
}

/**
 * Starts the server. `port` and `certificates` serve a process started before it that must
 * already trust it and know its address (the UI tests' JupyterLab): `certificates` is a folder
 * holding `ca.pem`, `leaf.key` and `leaf.pem` as `makeCertificates` writes them.
 */
export async function startImportServer(
  options: { port?: number; certificates?: string } = {}
): Promise<ImportServer> {
  const dir = mkdtempSync(join(tmpdir(), 'reproserver-import-server-'));
  const trustedDir = options.certificates ?? dir;
  if (!options.certificates) {
    makeCertificates(dir, '');
  }
  makeCertificates(dir, 'untrusted-');
  const facts = new Map<
    string,
    { path: string; size: number; sha256: string; md5: string }
  >();
  for (const name of PACKAGES) {
    const path = join(EXAMPLES_DIR, `${name}.rpz`);
    const bytes = readFileSync(path);
    facts.set(name, {
      path,
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      md5: createHash('md5').update(bytes).digest('hex')
    });
  }
  const requests: RecordedRequest[] = [];
  const cutOnce = new Set<string>();
  let base = '';

  const fixture = (file: string): Record<string, unknown> => {
    const text = readFileSync(join(FIXTURES, file), 'utf8')
      .replace(/"\{\{size:([\w-]+)\}\}"/g, (_, name: string) =>
        String(facts.get(name)!.size)
      )
      .replace(
        /\{\{(md5|sha256):([\w-]+)\}\}/g,
        (_, kind: 'md5' | 'sha256', name: string) => facts.get(name)![kind]
      )
      .replace(/\{\{base\}\}/g, base);
    return JSON.parse(text) as Record<string, unknown>;
  };

  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };

  /** Serves a file (a package or a text), honouring a Range request. */
  const sendFile = (
    request: IncomingMessage,
    response: ServerResponse,
    name: string,
    mode: 'normal' | 'cut' | 'slow' | 'stall'
  ) => {
    const stem = name.replace(/\.rpz$/, '');
    const pkg = facts.get(stem);
    const text = TEXT_FILES[name];
    if (!pkg && text === undefined) {
      json(response, 404, { status: 404, message: 'Not found.' });
      return;
    }
    const size = pkg ? pkg.size : Buffer.byteLength(text);
    const etag = `"${pkg ? pkg.sha256.slice(0, 16) : 'text'}"`;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const start =
      range && (request.headers['if-range'] ?? etag) === etag
        ? Number(range[1])
        : 0;
    const headers = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag,
      'content-length': String(size - start)
    };
    if (start > 0) {
      response.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${size - 1}/${size}`
      });
    } else {
      response.writeHead(200, headers);
    }
    if (!pkg) {
      response.end(Buffer.from(text).subarray(start));
      return;
    }
    if (mode === 'cut' && !cutOnce.has(name)) {
      cutOnce.add(name);
      const half = Math.floor(size / 2);
      const stream = createReadStream(pkg.path, { start: 0, end: half - 1 });
      stream.on('data', chunk => response.write(chunk));
      stream.on('end', () => setTimeout(() => response.socket?.destroy(), 50));
      return;
    }
    if (mode === 'stall') {
      response.write(Buffer.alloc(64 * 1024));
      return;
    }
    if (mode === 'slow') {
      const bytes = readFileSync(pkg.path).subarray(start);
      const part = Math.ceil(bytes.length / 16);
      let at = 0;
      const next = () => {
        if (response.destroyed) {
          return;
        }
        if (at >= bytes.length) {
          response.end();
          return;
        }
        response.write(bytes.subarray(at, at + part));
        at += part;
        setTimeout(next, 60);
      };
      next();
      return;
    }
    createReadStream(pkg.path, { start }).pipe(response);
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', base);
    const path = url.pathname;
    requests.push({ path: path + url.search, range: request.headers.range });
    let m: RegExpExecArray | null;
    if ((m = /^\/doi\/api\/handles\/(.+)$/.exec(path))) {
      const doi = decodeURIComponent(m[1]).toLowerCase();
      const target = fixture('doi.json')[doi];
      if (typeof target !== 'string') {
        json(response, 404, { responseCode: 100, handle: doi });
        return;
      }
      json(response, 200, {
        responseCode: 1,
        handle: doi,
        values: [
          {
            index: 100,
            type: 'HS_ADMIN',
            data: { format: 'admin', value: {} }
          },
          { index: 1, type: 'URL', data: { format: 'string', value: target } }
        ]
      });
    } else if ((m = /^\/zenodo\/api\/records\/(\d+)$/.exec(path))) {
      const record = fixture('zenodo.json')[m[1]];
      if (record) {
        json(response, 200, record);
      } else {
        json(response, 404, { status: 404, message: 'PID does not exist.' });
      }
    } else if ((m = /^\/osf-api\/v2\/files\/(\w+)\/$/.exec(path))) {
      const file = (fixture('osf.json').files as Record<string, unknown>)[m[1]];
      if (file) {
        json(response, 200, file);
      } else {
        json(response, 404, { errors: [{ detail: 'Not found.' }] });
      }
    } else if (
      (m =
        /^\/osf-api\/v2\/nodes\/(\w+)\/files\/osfstorage\/(?:(\w+)\/)?$/.exec(
          path
        ))
    ) {
      const key = m[2] ? `${m[1]}/${m[2]}` : m[1];
      const listing = (fixture('osf.json').nodes as Record<string, unknown>)[
        key
      ];
      if (listing) {
        json(response, 200, listing);
      } else {
        json(response, 404, { errors: [{ detail: 'Not found.' }] });
      }
    } else if (
      (m = /^\/figshare-api\/v2\/articles\/(\d+)(?:\/versions\/\d+)?$/.exec(
        path
      ))
    ) {
      const article = fixture('figshare.json')[m[1]];
      if (article) {
        json(response, 200, article);
      } else {
        json(response, 404, {
          message: 'Entity not found: article',
          code: 'EntityNotFound'
        });
      }
    } else if (path === '/api/datasets/:persistentId/') {
      const dataset =
        fixture('dataverse.json')[url.searchParams.get('persistentId') ?? ''];
      if (dataset) {
        json(response, 200, dataset);
      } else {
        json(response, 404, { status: 'ERROR', message: 'Dataset not found.' });
      }
    } else if ((m = /^\/api\/access\/datafile\/(\d+)$/.exec(path))) {
      const name = (
        fixture('dataverse.json').datafiles as Record<string, string>
      )[m[1]];
      sendFile(request, response, name ?? 'missing', 'normal');
    } else if ((m = /^\/(files|cut|slow|stall)\/([\w.-]+)$/.exec(path))) {
      sendFile(
        request,
        response,
        m[2],
        m[1] === 'files' ? 'normal' : (m[1] as 'cut')
      );
    } else if ((m = /^\/huge\/([\w.-]+)$/.exec(path))) {
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(2 ** 40)
      });
      response.write(Buffer.alloc(1024));
    } else if ((m = /^\/redirect\/(\d+)\/([\w.-]+)$/.exec(path))) {
      const left = Number(m[1]);
      response.writeHead(302, {
        location: left > 1 ? `/redirect/${left - 1}/${m[2]}` : `/files/${m[2]}`
      });
      response.end();
    } else if ((m = /^\/to-http\/([\w.-]+)$/.exec(path))) {
      response.writeHead(302, { location: `http://127.0.0.1:9/files/${m[1]}` });
      response.end();
    } else {
      // Record pages (Zenodo, OSF, Figshare, Dataverse's dataset.xhtml, a journal): HTML.
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><title>A landing page</title>');
    }
  };

  const listen = (server: Server, port = 0) =>
    new Promise<number>(resolvePort =>
      server.listen(port, '127.0.0.1', () =>
        resolvePort((server.address() as AddressInfo).port)
      )
    );
  const read = (file: string) => readFileSync(join(dir, file));
  const trusted = createServer(
    {
      key: readFileSync(join(trustedDir, 'leaf.key')),
      cert: readFileSync(join(trustedDir, 'leaf.pem'))
    },
    handle
  );
  const untrusted = createServer(
    { key: read('untrusted-leaf.key'), cert: read('untrusted-leaf.pem') },
    handle
  );
  base = `https://127.0.0.1:${await listen(trusted, options.port)}`;
  const untrustedBase = `https://127.0.0.1:${await listen(untrusted)}`;

  return {
    base,
    untrustedBase,
    caFile: join(trustedDir, 'ca.pem'),
    requests,
    env: () => ({
      NODE_EXTRA_CA_CERTS: join(trustedDir, 'ca.pem'),
      REPROSERVER_DOI_RESOLVER_URL: `${base}/doi`,
      REPROSERVER_ZENODO_URL: `${base}/zenodo`,
      REPROSERVER_OSF_URL: `${base}/osf`,
      REPROSERVER_OSF_API_URL: `${base}/osf-api`,
      REPROSERVER_FIGSHARE_URL: `${base}/figshare`,
      REPROSERVER_FIGSHARE_API_URL: `${base}/figshare-api`,
      REPROSERVER_FETCH_IDLE_TIMEOUT_SECONDS: '0.5',
      REPROSERVER_FETCH_CONNECT_TIMEOUT_SECONDS: '5'
    }),
    package: name => {
      const f = facts.get(name)!;
      return { path: f.path, size: f.size, sha256: f.sha256 };
    },
    close: async () => {
      for (const server of [trusted, untrusted]) {
        server.closeAllConnections();
        await new Promise(r => server.close(r));
      }
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
