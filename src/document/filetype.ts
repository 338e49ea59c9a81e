import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import rpzSvg from '../../style/icons/rpz.svg';
import { FILE_TYPE_NAME } from '../tokens';

/** The icon of `.rpz` files in the file browser and on the panel's tab. */
export const rpzIcon = new LabIcon({ name: 'reproserver:rpz', svgstr: rpzSvg });

/** ReproZip packages. */
export const rpzFileType: Partial<DocumentRegistry.IFileType> = {
  name: FILE_TYPE_NAME,
  displayName: 'ReproZip package',
  extensions: ['.rpz'],
  mimeTypes: ['application/x-reprozip'],
  fileFormat: 'base64',
  contentType: 'file',
  icon: rpzIcon
};
