/**
 * What only the Docker backend does, on the real Docker Engine with images from the real builder
 * and packages from the real reprozip (started and made by the test command). Every behaviour it
 * shares with the sandbox is tested over both in `backend-behaviour.test.ts`.
 */
import Docker from 'dockerode';
import { imageOf, leftContainers, runPackage } from '../../helpers/docker-run';
import { example } from '../../helpers/examples';

jest.setTimeout(180_000);

describe('Docker backend: endings of its own', () => {
  const shell = example('shell-pipeline');

  it('says so when the Docker Engine is gone, without hanging', async () => {
    await imageOf(shell.rpz);
    const run = await runPackage(
      shell.rpz,
      {},
      {
        docker: new Docker({ socketPath: '/nonexistent/docker.sock' })
      }
    );
    expect(run.result.status).toBe('error');
    expect(run.result.reason).toMatch(
      /^Docker failed: connect ENOENT \/nonexistent\/docker.sock/
    );
  });

  afterAll(async () => {
    // Every run removed its container.
    expect(await leftContainers()).toEqual([]);
  });
});
