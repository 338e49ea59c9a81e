import {
  ABCWidgetFactory,
  DocumentRegistry,
  DocumentWidget,
  TextModelFactory
} from '@jupyterlab/docregistry';
import { Toolbar } from '@jupyterlab/ui-components';
import type { ReproServerClient } from '../api/client';
import { PackageSession, type IPanelOptions } from '../model/package';
import { RpzPanel, type IPanelServices } from '../panel/panel';

/** Name of the model factory that never loads the file's content into the browser. */
export const METADATA_MODEL_NAME = 'rpz-metadata';

/**
 * A model factory with no file format: JupyterLab then asks the contents API for the file's
 * metadata only (`content=0`), so a package of gigabytes is never downloaded into the browser.
 * The companion server reads the package from the workspace instead.
 */
export class RpzModelFactory extends TextModelFactory {
  get name(): string {
    return METADATA_MODEL_NAME;
  }

  get contentType(): 'file' {
    return 'file';
  }

  get fileFormat(): null {
    return null;
  }
}

/** Opens `.rpz` files in the ReproServer panel. */
export class RpzWidgetFactory extends ABCWidgetFactory<
  DocumentWidget<RpzPanel>
> {
  constructor(
    options: DocumentRegistry.IWidgetFactoryOptions,
    private readonly _client: ReproServerClient,
    private readonly _panelOptions: () => IPanelOptions,
    private readonly _ready: () => Promise<void>,
    private readonly _services: IPanelServices
  ) {
    super(options);
  }

  /** What its panels ask of JupyterLab: the run file factory's panels ask the same. */
  get panelServices(): IPanelServices {
    return this._services;
  }

  protected createNewWidget(
    context: DocumentRegistry.Context
  ): DocumentWidget<RpzPanel> {
    const content = new RpzPanel(
      new PackageSession(this._client, context.path, this._panelOptions()),
      this._services
    );
    const session = content.session;
    void this._ready().then(() => {
      session.setOptions(this._panelOptions());
      return session.load();
    });
    // A plain toolbar, not JupyterLab's default reactive one: that one moves items which do
    // not fit behind a "more" button, and the run controls are one wide item.
    const widget = new DocumentWidget({
      context,
      content,
      toolbar: new Toolbar()
    });
    widget.addClass('jp-ReproServer-document');
    // Run, Cancel and the limits go where JupyterLab users look for a document's actions.
    content.controls.moveTo(widget.toolbar);
    context.pathChanged.connect((_, path) => session.setPath(path));
    return widget;
  }
}
