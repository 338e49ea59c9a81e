import { WidgetTracker } from '@jupyterlab/apputils';
import type { DocumentWidget } from '@jupyterlab/docregistry';
import type { ReproServerClient } from './api/client';
import type { RpzPanel } from './panel/panel';
import type { IReproServerTracker } from './tokens';

/** The tracker the main plugin provides as `IReproServerTracker`: panels plus their client. */
export class ReproServerTracker
  extends WidgetTracker<DocumentWidget<RpzPanel>>
  implements IReproServerTracker
{
  constructor(options: { namespace: string; client: ReproServerClient }) {
    super({ namespace: options.namespace });
    this.client = options.client;
  }

  readonly client: ReproServerClient;
}
