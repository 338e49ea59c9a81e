/** The build service's sharing and following of builds, with the builder faked. */
import type { BuildEvent } from '../../../src/build/events';

type Options = { onEvent?: (event: BuildEvent) => void; digest?: string };
const calls: {
  options: Options;
  finish: (image: string, digest?: string) => void;
  fail: (e: Error) => void;
  emit: (e: BuildEvent) => void;
}[] = [];

jest.mock('../../../src/build', () => ({
  buildImage: (_path: string, options: Options) =>
    new Promise((resolve, reject) => {
      calls.push({
        options,
        finish: (image, digest) => resolve({ image, digest }),
        fail: reject,
        emit: event => options.onEvent?.(event)
      });
    })
}));

import { BuildService } from '../../../src/service/builds';

const phase = (p: 'checking-cache' | 'building'): BuildEvent => ({
  type: 'phase',
  time: 't',
  phase: p
});
const flush = (): Promise<void> =>
  new Promise(resolve => setImmediate(resolve));

describe('BuildService', () => {
  beforeEach(() => (calls.length = 0));
  const service = (): BuildService =>
    new BuildService({
      dockerSocket: '/none',
      pathOf: async sha => `/pkg/${sha}`
    });

  it('tells a caller joining a build under way its latest phase and progress, not its past log', async () => {
    const builds = service();
    const a = builds.ensure('s');
    await flush();
    const progress = (bytes: number): BuildEvent => ({
      type: 'progress',
      time: 't',
      phase: 'building',
      bytes,
      totalBytes: 100,
      entries: 1
    });
    const log: BuildEvent = {
      type: 'log',
      time: 't',
      level: 'info',
      message: 'layer written'
    };
    calls[0].emit(phase('checking-cache'));
    calls[0].emit(progress(10));
    calls[0].emit(phase('building'));
    calls[0].emit(log);
    calls[0].emit(progress(40));
    const joined: BuildEvent[] = [];
    const b = builds.ensure('s', e => joined.push(e));
    calls[0].emit(progress(70));
    calls[0].finish('img');
    await Promise.all([a, b]);
    expect(joined).toEqual([phase('building'), progress(40), progress(70)]);
  });

  it('builds once for concurrent callers, each getting where the build stands, then its events', async () => {
    const builds = service();
    const first: BuildEvent[] = [];
    const second: BuildEvent[] = [];
    const a = builds.ensure('s', e => first.push(e));
    await flush();
    calls[0].emit(phase('checking-cache'));
    const b = builds.ensure('s', e => second.push(e));
    calls[0].emit(phase('building'));
    calls[0].finish('img');
    expect(await a).toBe('img');
    expect(await b).toBe('img');
    expect(calls).toHaveLength(1);
    expect(first).toEqual([phase('checking-cache'), phase('building')]);
    // Joined while checking the cache: told so, then the events from then on.
    expect(second).toEqual([phase('checking-cache'), phase('building')]);
    expect(builds.status('s')).toMatchObject({
      state: 'ready',
      image: 'img',
      error: null
    });
    expect(builds.status('s').events).toEqual([
      phase('checking-cache'),
      phase('building')
    ]);
  });

  it('lets a follower catch up, then live, until the build ends', async () => {
    const builds = service();
    const built = builds.ensure('s');
    await flush();
    calls[0].emit(phase('checking-cache'));
    const seen: BuildEvent[] = [];
    let ended = false;
    const following = builds
      .follow('s', e => seen.push(e), new AbortController().signal)
      .then(() => (ended = true));
    calls[0].emit(phase('building'));
    await flush();
    expect(ended).toBe(false);
    calls[0].fail(new Error('no space left'));
    await expect(built).rejects.toThrow('no space left');
    await following;
    expect(seen).toEqual([phase('checking-cache'), phase('building')]);
    expect(builds.status('s')).toMatchObject({
      state: 'failed',
      error: 'no space left'
    });
  });

  it('ends a follow at once when nothing builds, and when the follower goes', async () => {
    const builds = service();
    const none: BuildEvent[] = [];
    await builds.follow('s', e => none.push(e), new AbortController().signal);
    expect(none).toEqual([]);
    void builds.ensure('s').catch(() => undefined);
    await flush();
    const gone = new AbortController();
    const following = builds.follow('s', () => undefined, gone.signal);
    gone.abort();
    await following;
    calls[0].finish('img');
  });

  it('keeps the registry digest of an image and pulls by it after a restart', async () => {
    const kept = new Map<string, string>();
    const digests = {
      imageDigest: (registry: string, sha: string) =>
        kept.get(`${registry} ${sha}`),
      setImageDigest: (registry: string, sha: string, digest: string) =>
        void kept.set(`${registry} ${sha}`, digest)
    };
    const options = {
      dockerSocket: '/none',
      registry: '127.0.0.1:5000',
      pathOf: async (sha: string) => `/pkg/${sha}`,
      digests
    };
    const digest = `sha256:${'d'.repeat(64)}`;
    const first = new BuildService(options).ensure('s');
    await flush();
    expect(calls[0].options.digest).toBeUndefined();
    calls[0].finish('img', digest);
    await first;
    expect(kept.get('127.0.0.1:5000 s')).toBe(digest);

    // A new process: the digest comes from the records.
    const again = new BuildService(options).ensure('s');
    await flush();
    expect(calls[1].options.digest).toBe(digest);
    calls[1].finish('img', digest);
    await again;
  });
});
