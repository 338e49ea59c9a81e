/**
 * Run files (`.rpzrun`) in JupyterLab: their file type, and the document factory that opens one in
 * the ReproServer panel on its package, already configured (`RunFileController`). Like packages,
 * a run file is never loaded into the browser by JupyterLab (the metadata-only model): the
 * companion server reads and checks it.
 */
import {
  ABCWidgetFactory,
  DocumentRegistry,
  DocumentWidget
} from '@jupyterlab/docregistry';
import { LabIcon, Toolbar } from '@jupyterlab/ui-components';
import type { ReproServerClient } from '../api/client';
import { rpzIcon } from '../document/filetype';
import { PackageSession, type IPanelOptions } from '../model/package';
import { RpzPanel, type IPanelServices } from '../panel/panel';
import { RunFileController } from './controller';

export const RUN_FILE_TYPE_NAME = 'rpzrun';
export const RUN_FILE_FACTORY_NAME = 'ReproServer run file';

/** Run files: the package's icon, on a file that is JSON. */
export const runFileType: Partial<DocumentRegistry.IFileType> = {
  name: RUN_FILE_TYPE_NAME,
  displayName: 'ReproServer run file',
  extensions: ['.rpzrun'],
  mimeTypes: ['application/json'],
  fileFormat: 'text',
  contentType: 'file',
  icon: rpzIcon as LabIcon
};

/** Opens `.rpzrun` files in the ReproServer panel, on their package, configured. */
export class RunFileWidgetFactory extends ABCWidgetFactory<
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

  protected createNewWidget(
    context: DocumentRegistry.Context
  ): DocumentWidget<RpzPanel> {
    // The package's path is known once the run file is read.
    const content = new RpzPanel(
      new PackageSession(this._client, context.path, this._panelOptions()),
      this._services
    );
    const controller = new RunFileController(
      content,
      this._client,
      context.path,
      {
        trans: this._services.trans,
        rendermime: this._services.rendermime,
        pickWorkspaceFile: this._services.pickWorkspaceFile
      }
    );
    void this._ready().then(() => {
      content.session.setOptions(this._panelOptions());
      return controller.open();
    });
    const widget = new DocumentWidget({
      context,
      content,
      toolbar: new Toolbar()
    });
    widget.addClass('jp-ReproServer-document');
    widget.addClass('jp-ReproServer-runFileDocument');
    content.controls.moveTo(widget.toolbar);
    return widget;
  }
}
