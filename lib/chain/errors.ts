// The errors Lanes returns to clients: JSON-RPC error codes, one class for RPC failures and one
// for rejected transactions. A rejection carries a stable machine reason (for metrics, logs and
// the Rejection message on the bus) and the message text geth uses, because wallets and libraries
// (ethers, viem, cast) recognise failures by matching those strings.

/** JSON-RPC 2.0 error codes, plus the Ethereum conventions geth follows. */
export const RpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  /** Server error: geth returns it for every transaction validation failure. */
  Server: -32000,
  /** Rate limits, full queues: the request may succeed later. */
  LimitExceeded: -32005,
  /** eth_call / eth_estimateGas reverted; `data` holds the revert bytes. */
  ExecutionReverted: 3,
} as const;

export type RpcErrorCodeValue = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

/** An error the RPC layer returns as `{ code, message, data }`. */
export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }

  /** The JSON-RPC `error` member; `data` is left out when there is none. */
  toJSON(): { code: number; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export const parseError = (detail: string): RpcError => new RpcError(RpcErrorCode.ParseError, `parse error: ${detail}`);
export const invalidRequest = (detail: string): RpcError =>
  new RpcError(RpcErrorCode.InvalidRequest, `invalid request: ${detail}`);
export const methodNotFound = (method: string): RpcError =>
  new RpcError(RpcErrorCode.MethodNotFound, `the method ${method} does not exist/is not available`);
export const invalidParams = (detail: string): RpcError =>
  new RpcError(RpcErrorCode.InvalidParams, `invalid argument: ${detail}`);
export const internalError = (detail: string, cause?: unknown): RpcError =>
  new RpcError(RpcErrorCode.Internal, `internal error: ${detail}`, undefined, { cause });
export const limitExceeded = (detail: string): RpcError =>
  new RpcError(RpcErrorCode.LimitExceeded, `limit exceeded: ${detail}`);

/**
 * eth_call / eth_estimateGas reverted. Like geth: code 3, message "execution reverted" or
 * "execution reverted: <reason>" when the revert data is an Error(string), data = revert bytes hex.
 */
export class ExecutionRevertedError extends RpcError {
  readonly returnData: Uint8Array;

  constructor(returnData: Uint8Array, reason?: string) {
    const hex = '0x' + Buffer.from(returnData.buffer, returnData.byteOffset, returnData.byteLength).toString('hex');
    super(RpcErrorCode.ExecutionReverted, reason ? `execution reverted: ${reason}` : 'execution reverted', hex);
    this.name = 'ExecutionRevertedError';
    this.returnData = returnData;
  }
}

/** Why a transaction was not accepted (or not included). Stable: used in metrics and on the bus. */
export type TxRejectReason =
  | 'invalid-encoding'
  | 'tx-type-not-supported'
  | 'invalid-chain-id'
  | 'invalid-sender'
  | 'oversized-data'
  | 'max-initcode-size-exceeded'
  | 'intrinsic-gas-too-low'
  | 'gas-limit-exceeded'
  | 'fee-cap-below-base-fee'
  | 'tip-above-fee-cap'
  | 'nonce-too-low'
  | 'nonce-too-high'
  | 'insufficient-funds'
  | 'already-known'
  | 'txpool-full';

/** geth's message for each reason (core/error.go, core/txpool/errors.go); details follow ": ". */
export const TX_REJECT_MESSAGES: Readonly<Record<TxRejectReason, string>> = {
  'invalid-encoding': 'invalid transaction encoding',
  'tx-type-not-supported': 'transaction type not supported',
  'invalid-chain-id': 'invalid chain id for signer',
  'invalid-sender': 'invalid sender',
  'oversized-data': 'oversized data',
  'max-initcode-size-exceeded': 'max initcode size exceeded',
  'intrinsic-gas-too-low': 'intrinsic gas too low',
  'gas-limit-exceeded': 'exceeds block gas limit',
  'fee-cap-below-base-fee': 'max fee per gas less than block base fee',
  'tip-above-fee-cap': 'max priority fee per gas higher than max fee per gas',
  'nonce-too-low': 'nonce too low',
  'nonce-too-high': 'nonce too high',
  'insufficient-funds': 'insufficient funds for gas * price + value',
  'already-known': 'already known',
  'txpool-full': 'txpool is full',
};

/** Every rejection is -32000 as in geth, except back-pressure, which a client may retry. */
const TX_REJECT_CODES: Readonly<Partial<Record<TxRejectReason, number>>> = {
  'txpool-full': RpcErrorCode.LimitExceeded,
};

export const TX_REJECT_REASONS = Object.keys(TX_REJECT_MESSAGES) as readonly TxRejectReason[];

export function isTxRejectReason(value: string): value is TxRejectReason {
  return Object.prototype.hasOwnProperty.call(TX_REJECT_MESSAGES, value);
}

/**
 * A transaction that ingress (or block building) refused. `message` starts with geth's text for
 * the reason; `detail` (addresses, amounts) follows after ": ". `data` = `{ reason }` so JSON-RPC
 * clients can read the machine reason too.
 */
export class TxRejectedError extends RpcError {
  readonly reason: TxRejectReason;
  readonly detail: string | undefined;

  constructor(reason: TxRejectReason, detail?: string, options?: { cause?: unknown }) {
    const base = TX_REJECT_MESSAGES[reason];
    super(TX_REJECT_CODES[reason] ?? RpcErrorCode.Server, detail ? `${base}: ${detail}` : base, { reason }, options);
    this.name = 'TxRejectedError';
    this.reason = reason;
    this.detail = detail;
  }
}

export function isTxRejectedError(error: unknown): error is TxRejectedError {
  return error instanceof TxRejectedError;
}
