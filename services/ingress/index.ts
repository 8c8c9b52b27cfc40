// Public surface of the ingress service (for the CLI launcher, e2e tests and benchmarks).
export { startIngress, type IngressHandle } from './main.js';
export type { IngressBackend, BlockCommittedListener } from './backend.js';
export { Batcher, BatchPublishError, JetStreamBatchPublisher, type BatchPublisher, type BatcherOptions } from './batcher.js';
export { TxSubmitter, type SubmitOutcome } from './submit.js';
