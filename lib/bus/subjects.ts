// Every NATS subject and JetStream stream of Lanes, with its payload (proto/lanes/v1/bus.proto).
// Nothing else in the code builds a subject string.

/** JetStream stream of accepted transaction batches. Payload: TxBatch. Writer: ingress; reader: consensus. */
export const TX_STREAM = 'LANES_TX';
export const TX_SUBJECT = 'lanes.tx.batch';

/** JetStream stream of ordered blocks; stream sequence == block height. Payload: OrderedBlock. */
export const BLOCK_STREAM = 'LANES_BLOCKS';
export const BLOCK_SUBJECT = 'lanes.block.ordered';

/** Request/reply, queue group EXECUTOR_QUEUE. ExecRequest -> ExecResponse. */
export const EXEC_BLOCK_SUBJECT = 'lanes.exec.block';
/** Request/reply, queue group EXECUTOR_QUEUE. CallRequest -> CallResponse (eth_call, eth_estimateGas). */
export const EXEC_CALL_SUBJECT = 'lanes.exec.call';
export const EXECUTOR_QUEUE = 'executors';
/** An executor id as a subject token (its direct subjects end with it). */
function executorToken(executorId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(executorId)) throw new Error(`executor id '${executorId}' is not a subject token`);
  return executorId;
}
/** Request/reply to one executor (no queue): ExecRequest -> ExecResponse, for work by affinity. */
export function executorBlockSubject(executorId: string): string {
  return `lanes.exec.block.${executorToken(executorId)}`;
}
/** Request/reply to one executor: ExecRequest (the next block's likely txs) -> LookaheadResponse. */
export function executorLookaheadSubject(executorId: string): string {
  return `lanes.exec.lookahead.${executorToken(executorId)}`;
}
/** Core NATS, executors -> scheduler heartbeat. Payload: ExecutorHello. */
export const EXECUTOR_HELLO_SUBJECT = 'lanes.exec.hello';
export const EXECUTOR_HELLO_MS = 500;
/** Request/reply to the scheduler. ConflictReportRequest -> ConflictReportResponse. */
export const SCHEDULER_REPORT_SUBJECT = 'lanes.scheduler.report';

/** Request/reply, queue group STATE_QUEUE. StateReadRequest -> StateReadResponse. */
export const STATE_READ_SUBJECT = 'lanes.state.read';
/** Request/reply to the single committing state instance. CommitRequest -> CommitResponse. */
export const STATE_COMMIT_SUBJECT = 'lanes.state.commit';
/** Request/reply, queue group STATE_QUEUE. HeadRequest -> HeadResponse. */
export const STATE_HEAD_SUBJECT = 'lanes.state.head';
/** KeyFilterRequest → KeyFilterResponse: the writer's filter of every state key ever written. */
export const STATE_KEY_FILTER_SUBJECT = 'lanes.state.keyfilter';
/** Request/reply, queue group STATE_QUEUE. BlockRequest -> BlockResponse. */
export const STATE_BLOCK_SUBJECT = 'lanes.state.block';
/** Request/reply, queue group STATE_QUEUE. TxLookupRequest -> TxLookupResponse. */
export const STATE_TX_SUBJECT = 'lanes.state.tx';
/** Request/reply, queue group STATE_QUEUE. LogsRequest -> LogsResponse. */
export const STATE_LOGS_SUBJECT = 'lanes.state.logs';
export const STATE_QUEUE = 'state';

/** Core NATS fan-out after each commit. Payload: BlockCommitted (no writes). Readers: ingress, executors, consensus, state readers. */
export const BLOCK_COMMITTED_SUBJECT = 'lanes.block.committed';

/**
 * Core NATS fan-out from the scheduler once a block's execution is final, before its commit
 * lands. Payload: BlockExecuted. Readers: executors, which run the next block on those writes.
 */
export const BLOCK_EXECUTED_SUBJECT = 'lanes.block.executed';

/** Largest NATS payload the cluster is configured for (nats-server max_payload). */
export const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;
