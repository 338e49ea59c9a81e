import type { ReproServerClient } from '../api/client';
import { IReproServerTracker } from '../tokens';
import { ReproServerTracker } from '../tracker';

// The real WidgetTracker drags in all of apputils' UI (ES-only packages jest does not compile);
// what is tested here is what this extension adds to it.
jest.mock('@jupyterlab/apputils', () => ({
  WidgetTracker: class {
    constructor(readonly options: { namespace: string }) {}
  }
}));

describe('IReproServerTracker', () => {
  it('is a named Lumino token other extensions can require', () => {
    expect(IReproServerTracker.name).toBe(
      'jupyterlab-reproserver:IReproServerTracker'
    );
    expect(IReproServerTracker.description).toContain('companion server');
  });

  it('is provided by a tracker of panels that carries their client', () => {
    const client = {} as ReproServerClient;
    const tracker = new ReproServerTracker({
      namespace: 'reproserver',
      client
    });
    expect(tracker.client).toBe(client);
    expect((tracker as unknown as { options: unknown }).options).toEqual({
      namespace: 'reproserver'
    });
  });
});
