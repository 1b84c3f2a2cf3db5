/**
 * @sigplane/protocol: the vocabulary every part of sigplane and its clients
 * speaks. The wire schema (sigplane.proto) and its codec, the reject codes
 * and records, every limit, v1 and v2 signing, the seed's field rules, pip
 * sizes, copy settings and execution reports, the catalogue of error codes
 * and their base class (SigplaneError). It imports nothing of the
 * server: the server and the client SDK both stand on it.
 */
export * from './c-printf';
export * from './codec';
export * from './errors';
export * from './execution-report';
export * from './limits';
export * from './pip-size';
export * from './receiver-settings';
export * from './records';
export * from './signal-rules';
export * from './sigplane-error';
export * from './signing-v1';
export * from './signing-v2';
export * from './token-bucket';
export * from './wire-types';
