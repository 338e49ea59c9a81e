/**
 * Imports by URL or DOI through the API: the real server process, fetching from a local HTTPS
 * server that answers as the DOI resolver, Zenodo, OSF, Figshare and Dataverse do
 * (`helpers/import-server.ts`), real packages made by reprozip. Each service, each way a download
 * can go wrong, and the file left (or not) in the workspace.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  ApiErrorBody,
  ErrorCode,
  ImportRecord,
  PackageSummary
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import {
  startImportServer,
  type ImportServer
} from '../../helpers/import-server';
import { startServer, type RunningServer } from '../../helpers/server-process';

jest.setTimeout(60_000);

const FINAL = ['done', 'failed', 'cancelled', 'choosing'];

describe('imports through the API', () => {
  let remote: ImportServer;
  let server: RunningServer;
  let api: ApiClient;
  let workspace: string;

  beforeAll(async () => {
    remote = await startImportServer();
    workspace = mkdtempSync(join(tmpdir(), 'reproserver-import-ws-'));
    mkdirSync(join(workspace, 'existing'));
    server = await startServer({
      ...remote.env(),
      REPROSERVER_WORKSPACE: workspace,
      // Over every package here (1.1–5 MB), under the announced 1 TiB.
      REPROSERVER_MAX_UPLOAD_MIB: '8'
    });
    api = new ApiClient(server);
  });

  afterAll(async () => {
    await server?.stop();
    await remote?.close();
  });

  /** Starts an import and polls it until its status is final; returns every state seen. */
  async function importOf(body: {
    source: string;
    file?: string;
    to?: string;
  }): Promise<{ final: ImportRecord; seen: ImportRecord[] }> {
    const started = await api.call<ImportRecord>('POST', '/api/imports', body);
    expect(started.status).toBe(202);
    const seen = [started.body];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const reply = await api.call<ImportRecord>(
        'GET',
        `/api/imports/${started.body.id}`
      );
      expect(reply.status).toBe(200);
      seen.push(reply.body);
      if (FINAL.includes(reply.body.status)) {
        return { final: reply.body, seen };
      }
      if (Date.now() > deadline) {
        throw new Error(`import did not end: ${JSON.stringify(reply.body)}`);
      }
      await new Promise(r => setTimeout(r, 40));
    }
  }

  /** The workspace's files, hidden ones included (a partial download must not stay). */
  const filesIn = (folder = workspace) => readdirSync(folder).sort();
  const sha256Of = (path: string) =>
    createHash('sha256').update(readFileSync(path)).digest('hex');

  it('fetches a Zenodo record through its DOI, into the workspace, registered', async () => {
    const { final } = await importOf({ source: 'doi:10.5281/zenodo.1001' });
    const expected = remote.package('shell-pipeline');
    expect(final).toMatchObject({
      status: 'done',
      file: 'shell-pipeline.rpz',
      bytes: expected.size,
      total: expected.size,
      error: null,
      result: {
        sha256: expected.sha256,
        path: 'shell-pipeline.rpz',
        name: 'shell-pipeline.rpz',
        size: expected.size,
        reused: false
      }
    });
    expect(sha256Of(join(workspace, 'shell-pipeline.rpz'))).toBe(
      expected.sha256
    );
    const registered = await api.call<PackageSummary>(
      'GET',
      `/api/packages/${expected.sha256}`
    );
    expect(registered.status).toBe(200);
    expect(registered.body.path).toBe('shell-pipeline.rpz');
    // The DOI went through the Handle API, then the record through Zenodo's API.
    const paths = remote.requests.map(r => r.path);
    expect(paths).toContain('/doi/api/handles/10.5281/zenodo.1001');
    expect(paths).toContain('/zenodo/api/records/1001');
  });

  it('reuses a registered package with the same sha256 instead of writing it twice', async () => {
    const before = filesIn();
    const { final } = await importOf({
      source: `${remote.base}/dataverse/dataset.xhtml?persistentId=doi:10.7910/DVN/ABC123`
    });
    expect(final.status).toBe('done');
    expect(final.result).toMatchObject({
      sha256: remote.package('shell-pipeline').sha256,
      path: 'shell-pipeline.rpz',
      reused: true
    });
    expect(filesIn()).toEqual(before);
    expect(remote.requests.map(r => r.path)).toContain(
      '/api/access/datafile/3001'
    );
  });

  it('lists the packages of a record with several, then takes the one chosen', async () => {
    const { final } = await importOf({
      source: `${remote.base}/zenodo/records/1002`
    });
    expect(final.status).toBe('choosing');
    expect(final.candidates).toEqual([
      { name: 'two-steps.rpz', size: remote.package('two-steps').size },
      { name: 'slow-printer.rpz', size: remote.package('slow-printer').size }
    ]);
    const chosen = await importOf({
      source: `${remote.base}/zenodo/records/1002`,
      file: 'slow-printer.rpz',
      to: 'fetched/zenodo'
    });
    expect(chosen.final.result).toMatchObject({
      path: 'fetched/zenodo/slow-printer.rpz',
      sha256: remote.package('slow-printer').sha256
    });
    const unknown = await importOf({
      source: `${remote.base}/zenodo/records/1002`,
      file: 'other.rpz'
    });
    expect(unknown.final.error?.code).toBe('unknown-file');
    expect(unknown.final.error?.message).toContain('two-steps.rpz');
  });

  it('fetches an OSF project (walking its folders) and an OSF file through its DOI', async () => {
    const project = await importOf({
      source: `${remote.base}/osf/proj1/`,
      to: 'osf'
    });
    expect(project.final.result).toMatchObject({
      path: 'osf/two-steps.rpz',
      sha256: remote.package('two-steps').sha256
    });
    const file = await importOf({
      source: 'https://doi.org/10.17605/OSF.IO/FIL01',
      to: 'osf'
    });
    expect(file.final.result).toMatchObject({
      path: 'osf/links.rpz',
      sha256: remote.package('links').sha256
    });
  });

  it('fetches a Figshare article, by its page and by its DOI', async () => {
    const { final } = await importOf({
      source: `${remote.base}/figshare/articles/dataset/two_steps/2001/1`,
      to: 'existing'
    });
    // osf/two-steps.rpz holds the same bytes, registered: reused.
    expect(final.result).toMatchObject({
      path: 'osf/two-steps.rpz',
      reused: true
    });
    const byDoi = await importOf({
      source: 'https://dx.doi.org/10.6084/m9.figshare.2001.v1'
    });
    expect(byDoi.final.result?.path).toBe('osf/two-steps.rpz');
    expect(remote.requests.map(r => r.path)).toContain(
      '/figshare-api/v2/articles/2001/versions/1'
    );
  });

  it('follows redirects, resumes a cut transfer with a Range request, and reports progress of a slow one', async () => {
    const redirected = await importOf({
      source: `${remote.base}/zenodo/records/1009`,
      to: 'more'
    });
    expect(redirected.final.status).toBe('done');
    expect(remote.requests.map(r => r.path)).toEqual(
      expect.arrayContaining([
        '/redirect/3/links.rpz',
        '/redirect/1/links.rpz',
        '/files/links.rpz'
      ])
    );

    const size = remote.package('links').size;
    const cut = await importOf({
      source: `${remote.base}/zenodo/records/1006`,
      to: 'cut'
    });
    expect(cut.final.result).toMatchObject({
      sha256: remote.package('links').sha256,
      path: 'osf/links.rpz',
      reused: true
    });
    const ranges = remote.requests.filter(r => r.path === '/cut/links.rpz');
    expect(ranges.map(r => r.range)).toEqual([
      undefined,
      `bytes=${Math.floor(size / 2)}-`
    ]);

    const slow = await importOf({
      source: `${remote.base}/zenodo/records/1007`,
      to: 'slow'
    });
    expect(slow.final.status).toBe('done');
    const during = slow.seen.filter(
      s => s.status === 'downloading' && s.bytes > 0 && s.bytes < s.total!
    );
    expect(during.length).toBeGreaterThan(0);
    expect(during.some(s => s.rate !== null && s.etaSeconds !== null)).toBe(
      true
    );
  });

  it('fetches the https URL of an .rpz file', async () => {
    const { final } = await importOf({
      source: `${remote.base}/files/python-options.rpz`,
      to: 'plain'
    });
    expect(final.result).toMatchObject({
      path: 'plain/python-options.rpz',
      reused: false
    });
  });

  it('says in one sentence why an import failed, and leaves no file behind', async () => {
    const before = filesIn();
    const cases: [string, ErrorCode, RegExp][] = [
      [
        '10.5281/zenodo.424242',
        'unknown-doi',
        /DOI 10\.5281\/zenodo\.424242 does not exist/
      ],
      [
        `${remote.base}/zenodo/records/424242`,
        'unknown-record',
        /Zenodo record 424242 does not exist/
      ],
      [`${remote.base}/osf/nopex/`, 'unknown-record', /OSF project nopex/],
      [
        `${remote.base}/figshare/articles/dataset/x/999/1`,
        'unknown-record',
        /Figshare article 999/
      ],
      [
        'doi:10.5281/zenodo.1003',
        'no-package-in-record',
        /^Zenodo record 1003 holds 1 file \(data\.csv\) and no ReproZip package/
      ],
      [
        '10.1234/article.page',
        'no-package-in-record',
        /neither a record of Zenodo/
      ],
      [
        `${remote.base}/zenodo/records/1004`,
        'bad-package',
        /^not-a-package\.rpz is not a ReproZip package \(the file is neither a tar nor a gzip-compressed tar\); check/
      ],
      [
        `${remote.base}/zenodo/records/1005`,
        'too-large',
        /1\.0 TiB, over the 8\.0 MiB limit/
      ],
      [
        `${remote.base}/zenodo/records/1008`,
        'download-timeout',
        /sent nothing for/
      ],
      [
        `${remote.untrustedBase}/files/links.rpz`,
        'tls-error',
        /certificate is not trusted/
      ],
      [`${remote.base}/to-http/links.rpz`, 'download-failed', /not https/],
      [
        `${remote.base}/files/gone.rpz`,
        'download-failed',
        /no longer has gone\.rpz \(HTTP 404\)/
      ]
    ];
    for (const [source, code, sentence] of cases) {
      const { final } = await importOf({ source });
      expect({ source, status: final.status, code: final.error?.code }).toEqual(
        { source, status: 'failed', code }
      );
      expect(final.error?.message).toMatch(sentence);
      expect(final.error?.message).not.toContain('\n');
    }
    expect(filesIn()).toEqual(before);
  });

  it('refuses at once what is neither a DOI nor a URL it can fetch, and folders outside the workspace', async () => {
    for (const source of [
      'not a doi',
      'http://example.org/package.rpz',
      'ftp://example.org/package.rpz',
      'https://example.org/paper.pdf',
      ''
    ]) {
      const reply = await api.call<ApiErrorBody>('POST', '/api/imports', {
        source
      });
      expect({
        source,
        status: reply.status,
        code: reply.body.error.code
      }).toEqual({ source, status: 400, code: 'bad-source' });
    }
    const outside = await api.call<ApiErrorBody>('POST', '/api/imports', {
      source: '10.5281/zenodo.1001',
      to: '../elsewhere'
    });
    expect(outside.status).toBe(400);
    expect(outside.body.error.code).toBe('bad-path');
    const missing = await api.call<ApiErrorBody>('GET', '/api/imports/nope');
    expect(missing.status).toBe(404);
  });

  it('cancels an import going on and removes its partial file', async () => {
    const started = await api.call<ImportRecord>('POST', '/api/imports', {
      source: `${remote.base}/slow/two-steps.rpz`,
      to: 'cancelled'
    });
    let record = started.body;
    while (record.bytes === 0) {
      await new Promise(r => setTimeout(r, 20));
      record = (
        await api.call<ImportRecord>('GET', `/api/imports/${record.id}`)
      ).body;
      expect(record.status).not.toBe('failed');
    }
    const cancelled = await api.call<ImportRecord>(
      'POST',
      `/api/imports/${record.id}/cancel`
    );
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    await new Promise(r => setTimeout(r, 300));
    expect(filesIn(join(workspace, 'cancelled'))).toEqual([]);
    const again = await api.call<ApiErrorBody>(
      'POST',
      `/api/imports/${record.id}/cancel`
    );
    expect(again.body.error.code).toBe('already-ended');
  });

  // Last: it stops the server.
  it('removes the partial file of a download going on when the server stops', async () => {
    const started = await api.call<ImportRecord>('POST', '/api/imports', {
      source: `${remote.base}/slow/links.rpz`,
      to: 'stopped'
    });
    let record = started.body;
    while (record.bytes === 0) {
      await new Promise(r => setTimeout(r, 20));
      record = (
        await api.call<ImportRecord>('GET', `/api/imports/${record.id}`)
      ).body;
    }
    expect(filesIn(join(workspace, 'stopped'))).toEqual([
      expect.stringMatching(/^\.links\.rpz\.part-[0-9a-f]{12}$/)
    ]);
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(filesIn(join(workspace, 'stopped'))).toEqual([]);
  });
});
