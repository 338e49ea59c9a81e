/**
 * The API's wire types, for the imports that name them here (the panel imports
 * `reproserver/dist/api/wire`). They are declared in `contract/wire.ts`, below `api/`, so that
 * services and backends can use them without importing from the API layer.
 */
export * from '../contract/wire';
