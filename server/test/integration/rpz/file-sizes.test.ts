import { readPackage } from '../../../src/rpz';
import { ioFileSizes } from '../../../src/rpz/file-sizes';
import { example } from '../../helpers/examples';

describe('ioFileSizes', () => {
  it('gives the packed size of each input, following symlinks and hard links', async () => {
    const links = example('links');
    const model = await readPackage(links.rpz);
    const sizes = await ioFileSizes(links.rpz, model);
    for (const [name, file] of Object.entries(links.manifest.inputs ?? {})) {
      expect({ name, size: sizes[name] }).toEqual({
        name,
        size: Buffer.byteLength(file.text)
      });
    }
  });

  it('says null for files the package does not hold (outputs only written)', async () => {
    const shell = example('shell-pipeline');
    const model = await readPackage(shell.rpz);
    const sizes = await ioFileSizes(shell.rpz, model);
    expect(sizes['top-words.txt']).toBeNull();
    expect(sizes.arg2).toBe(
      Buffer.byteLength(shell.manifest.inputs!.arg2.text)
    );
  });
});
