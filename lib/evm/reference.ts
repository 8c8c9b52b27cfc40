// The serial reference executor: the whole state in one Map, transactions run one by one with
// the same TxExecutor the cluster uses, each transaction's writes applied before the next runs.
// It is the baseline of invariant 1 (serial equivalence): the cluster's state root and receipts
// after a block must equal what this produces from the same genesis and blocks. It reads nothing
// but its inputs (no clock, no randomness, no iteration over unordered inputs that matters).
import { StateRootAccumulator } from '../state/root.js';
import type { StateKey } from '../state/keys.js';
import { TxExecutor, type BlockEnv, type TxInput, type TxOutcome } from './execute.js';
import { MapStateSource } from './stateView.js';

export interface ReferenceExecutorOptions {
  chainId: bigint;
  /** Initial state: absent values (null) are skipped, as absent is the default. */
  genesis: Iterable<readonly [StateKey, Buffer | null]>;
}

export class ReferenceExecutor {
  private readonly state = new Map<StateKey, Buffer>();
  private readonly rootAccumulator = new StateRootAccumulator();
  private readonly source = new MapStateSource(this.state);

  private constructor(private readonly executor: TxExecutor) {}

  static async create(opts: ReferenceExecutorOptions): Promise<ReferenceExecutor> {
    const ref = new ReferenceExecutor(await TxExecutor.create({ chainId: opts.chainId }));
    for (const [key, value] of opts.genesis) ref.apply(key, value);
    return ref;
  }

  /** Run `txs` in order; tx i sees the writes of tx 0 … i-1. Invalid transactions change nothing. */
  async executeBlock(env: BlockEnv, txs: readonly TxInput[]): Promise<TxOutcome[]> {
    const outcomes: TxOutcome[] = [];
    for (const tx of txs) {
      const outcome = await this.executor.execute(tx, env, this.source);
      for (const [key, value] of outcome.writes) this.apply(key, value);
      outcomes.push(outcome);
    }
    return outcomes;
  }

  stateRoot(): Buffer {
    return this.rootAccumulator.root();
  }

  get(key: StateKey): Buffer | null {
    return this.state.get(key) ?? null;
  }

  /** Every present entry, in insertion order (callers sort if they need a canonical order). */
  entries(): IterableIterator<[StateKey, Buffer]> {
    return this.state.entries();
  }

  get size(): number {
    return this.state.size;
  }

  /** The executor it runs transactions with, for eth_call-style queries against this state. */
  get txExecutor(): TxExecutor {
    return this.executor;
  }

  get stateSource(): MapStateSource {
    return this.source;
  }

  private apply(key: StateKey, value: Buffer | null): void {
    const before = this.state.get(key) ?? null;
    this.rootAccumulator.update(key, before, value);
    if (value === null) this.state.delete(key);
    else this.state.set(key, value);
  }
}
