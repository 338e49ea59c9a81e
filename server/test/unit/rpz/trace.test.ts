/**
 * The trace reader on node:sqlite: the safety properties its header states that come from how the
 * database is opened, and integers past 2^53 (node:sqlite throws on reading one as a number).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTrace, summariseTrace } from '../../../src/rpz/trace';
import { traceBytes, traceWith } from '../../helpers/synthetic-rpz';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trace-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(bytes: Buffer): string {
  const path = join(dir, 'trace.sqlite3');
  writeFileSync(path, bytes);
  return path;
}

describe('openTrace', () => {
  it('opens read-only and loads no extension, neither by API nor from SQL', () => {
    const db = openTrace(file(traceBytes()));
    try {
      expect(() => db.exec('DELETE FROM processes')).toThrow(/readonly/);
      expect(() => db.loadExtension('/nonexistent/ext.so')).toThrow(
        /extension loading is not allowed/
      );
      expect(() =>
        db.prepare("SELECT load_extension('/nonexistent/ext.so')").get()
      ).toThrow(/not authorized/);
    } finally {
      db.close();
    }
  });

  it('refuses a missing file rather than creating a database', () => {
    const path = join(dir, 'missing.sqlite3');
    expect(() => openTrace(path)).toThrow();
    expect(existsSync(path)).toBe(false);
  });
});

describe('summariseTrace', () => {
  it('summarises a trace as before', () => {
    expect(summariseTrace(file(traceBytes()))).toEqual({
      status: 'ok',
      runs: [
        {
          run: 0,
          processes: 2,
          programs: ['/usr/bin/python3', '/bin/sh'],
          filesRead: ['/home/ana/in.txt'],
          filesWritten: ['/home/ana/out.txt']
        }
      ]
    });
  });

  it('skips rows whose integers do not fit a number, and reads the rest', () => {
    const warnings: string[] = [];
    const summary = summariseTrace(
      file(
        traceWith(`
          CREATE TABLE processes(id INTEGER PRIMARY KEY, run_id INTEGER, is_thread BOOLEAN);
          CREATE TABLE opened_files(id INTEGER PRIMARY KEY, run_id INTEGER, name TEXT, mode INTEGER,
            is_directory BOOLEAN);
          CREATE TABLE executed_files(id INTEGER PRIMARY KEY, run_id INTEGER, name TEXT);
          INSERT INTO processes VALUES (1, 0, 0), (2, 9223372036854775807, 0);
          INSERT INTO executed_files VALUES (1, 9223372036854775807, '/big'), (2, 0, '/bin/sh');
          INSERT INTO opened_files VALUES (1, 0, '/in', 1, 0), (2, 0, '/huge-mode', 9223372036854775807, 0),
            (3, -9223372036854775808, '/out', 2, 0);
        `)
      ),
      undefined,
      warnings
    );
    expect(summary).toEqual({
      status: 'ok',
      runs: [
        {
          run: 0,
          processes: 1,
          programs: ['/bin/sh'],
          filesRead: ['/in'],
          filesWritten: []
        }
      ]
    });
    expect(warnings).toEqual([
      'The trace summary is partial: rows whose run_id is not an integer were skipped.'
    ]);
  });
});
