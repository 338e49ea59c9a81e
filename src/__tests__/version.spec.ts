import { nullTranslator } from '@jupyterlab/translation';
import * as fs from 'fs';
import * as path from 'path';
import { EXTENSION_VERSION, versionMismatch } from '../model/version';

const trans = nullTranslator.load('jupyterlab_reproserver');

describe('the version check', () => {
  it('knows the version of package.json, which the labextension is built with', () => {
    const packageJson = JSON.parse(
      fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')
    ) as { version: string };
    expect(EXTENSION_VERSION).toBe(packageJson.version);
  });

  it('says nothing when the server is at the same version', () => {
    expect(versionMismatch('1.2.3', trans, '1.2.3')).toBeNull();
    expect(versionMismatch('1.2.3\n', trans, '1.2.3')).toBeNull();
  });

  it('names both versions when they differ', () => {
    const text = versionMismatch('1.2.4', trans, '1.2.3');
    expect(text).toContain('companion server is version 1.2.4');
    expect(text).toContain('extension is version 1.2.3');
  });
});
