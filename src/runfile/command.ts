/** "Save Configuration as Run File…" (`runfile/save.ts`), in the palette with the panel's others. */
export const SAVE_RUN_FILE_COMMAND = 'reproserver:save-run-file';
