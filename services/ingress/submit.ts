// Admission: decode, static checks, the sender's committed account, duplicates and the pending
// nonce, then the batcher. Accounts are read in one lanes.state.read per tick for every submit
// that arrived in it (a JSON-RPC batch, a gRPC batch, concurrent single requests), never per tx.
import type { Common } from '@ethereumjs/common';
import { checkAgainstAccount, checkSize, checkStatic, type AdmissionLimits, type AccountSnapshot } from '../../lib/chain/admission.js';
import { decodeTransaction, type DecodedTx } from '../../lib/chain/decode.js';
import { RpcError, RpcErrorCode, TxRejectedError } from '../../lib/chain/errors.js';
import { accountKey, decodeAccount, keyToBytes } from '../../lib/state/keys.js';
import type { Logger } from '../../lib/log.js';
import type { IngressBackend } from './backend.js';
import type { Batcher } from './batcher.js';
import type { PendingTxs } from './pending.js';

/** Accepted (hash set, no error) or refused with an error a client can show. */
export interface SubmitOutcome {
  hash: Buffer | undefined;
  error: RpcError | undefined;
}

export interface TxSubmitterOptions {
  common: Common;
  /** Current limits (the base fee follows the head). */
  limits: () => AdmissionLimits;
  nowMs?: () => number;
}

interface AccountRead {
  senders: Buffer[];
  resolve: (accounts: Map<string, AccountSnapshot>) => void;
  reject: (err: unknown) => void;
}

/** Upper bound of accounts read in one coalesced lanes.state.read (the backend splits above). */
const MAX_COALESCED_SENDERS = 20_000;

export class TxSubmitter {
  private readonly reads: AccountRead[] = [];
  private queuedSenders = 0;
  private flushScheduled = false;

  constructor(
    private readonly backend: Pick<IngressBackend, 'readState'>,
    private readonly batcher: Batcher,
    private readonly pending: PendingTxs,
    private readonly options: TxSubmitterOptions,
    private readonly log: Logger,
  ) {}

  /** Admits each raw transaction; outcomes are in input order, resolved once batches are stored. */
  async submit(raws: readonly Buffer[]): Promise<SubmitOutcome[]> {
    const outcomes: SubmitOutcome[] = raws.map(() => ({ hash: undefined, error: undefined }));
    const limits = this.options.limits();
    const decoded: Array<{ index: number; tx: DecodedTx }> = [];
    for (let i = 0; i < raws.length; i++) {
      // Fail fast (before paying for sender recovery and a state read) when nothing can be queued.
      if (this.batcher.freeSlots <= decoded.length) {
        outcomes[i]!.error = new TxRejectedError('txpool-full');
        continue;
      }
      try {
        checkSize(raws[i]!.length, limits);
        const tx = decodeTransaction(raws[i]!, this.options.common);
        checkStatic(tx, limits);
        decoded.push({ index: i, tx });
      } catch (err) {
        outcomes[i]!.error = asRpcError(err, this.log);
      }
    }
    if (decoded.length === 0) return outcomes;

    let accounts: Map<string, AccountSnapshot>;
    try {
      accounts = await this.readAccounts(decoded.map((d) => d.tx.sender));
    } catch (err) {
      this.log.warn({ err }, 'account read for admission failed');
      const error = new RpcError(RpcErrorCode.Server, `cannot read sender accounts: ${(err as Error).message}`);
      for (const d of decoded) outcomes[d.index]!.error = error;
      return outcomes;
    }

    const waits: Array<Promise<void>> = [];
    const nowMs = (this.options.nowMs ?? Date.now)();
    for (const { index, tx } of decoded) {
      try {
        if (this.pending.has(tx.hash)) throw new TxRejectedError('already-known');
        const account = accounts.get(tx.sender.toString('hex'))!;
        checkAgainstAccount(tx, account, limits, this.pending.pendingNonce(tx.sender, account.nonce));
      } catch (err) {
        outcomes[index]!.error = asRpcError(err, this.log);
        continue;
      }
      // Pending before the ack, so a second copy arriving meanwhile is "already known".
      this.pending.add(tx.hash, { raw: tx.raw, sender: tx.sender, nonce: tx.nonce, acceptedAtMs: nowMs });
      waits.push(this.batcher.add({ raw: tx.raw, hash: tx.hash, sender: tx.sender }).then(
        () => { outcomes[index]!.hash = tx.hash; },
        (err: unknown) => {
          this.pending.remove(tx.hash);
          outcomes[index]!.error = asRpcError(err, this.log);
        },
      ));
    }
    await Promise.all(waits);
    return outcomes;
  }

  /** Queues a read of these senders' accounts into the next coalesced state read. */
  private readAccounts(senders: Buffer[]): Promise<Map<string, AccountSnapshot>> {
    return new Promise((resolve, reject) => {
      if (this.queuedSenders + senders.length > MAX_COALESCED_SENDERS) this.flushReads();
      this.reads.push({ senders, resolve, reject });
      this.queuedSenders += senders.length;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushReads());
      }
    });
  }

  private flushReads(): void {
    this.flushScheduled = false;
    const reads = this.reads.splice(0);
    this.queuedSenders = 0;
    if (reads.length === 0) return;
    const unique = new Map<string, Buffer>();
    for (const read of reads) for (const sender of read.senders) unique.set(sender.toString('hex'), sender);
    const keys = [...unique.values()].map((sender) => keyToBytes(accountKey(sender)));
    this.backend.readState(keys, 'latest').then(({ entries }) => {
      const accounts = new Map<string, AccountSnapshot>();
      let i = 0;
      for (const senderHex of unique.keys()) {
        const entry = entries[i++]!;
        accounts.set(senderHex, entry.absent || entry.value.length === 0 ? { nonce: 0n, balance: 0n } : decodeAccount(entry.value));
      }
      for (const read of reads) read.resolve(accounts);
    }, (err: unknown) => {
      for (const read of reads) read.reject(err);
    });
  }
}

/** Rejections and RPC errors pass through; anything else is an internal failure, logged once here. */
function asRpcError(err: unknown, log: Logger): RpcError {
  if (err instanceof RpcError) return err;
  log.error({ err }, 'unexpected admission failure');
  return new RpcError(RpcErrorCode.Internal, `internal error: ${(err as Error)?.message ?? String(err)}`);
}
