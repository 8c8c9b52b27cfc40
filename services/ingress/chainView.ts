// What ingress knows about the chain's head without asking: the latest committed header and a
// bounded window of recent ones (eth_blockNumber, fees, eth_feeHistory, StreamBlocks replay),
// kept current by lanes.block.committed and refreshed from the state service when stale.
import type { BlockHeader } from '../../gen/lanes/v1/types.js';
import type { IngressBackend } from './backend.js';
import { bytesToBigint } from './format.js';

export interface ChainViewOptions {
  /** Recent headers kept in memory. */
  recentHeaders: number;
  /** Base fee assumed before any header is known (genesis). */
  genesisBaseFeePerGas: bigint;
  /** eth_blockNumber asks the state service again when the cached head is older than this. */
  headMaxAgeMs: number;
  nowMs?: () => number;
}

export class ChainView {
  private latestHeader: BlockHeader | undefined;
  private latestAtMs = 0;
  private readonly recent = new Map<bigint, BlockHeader>();

  constructor(private readonly backend: Pick<IngressBackend, 'head'>, private readonly options: ChainViewOptions) {
    if (options.recentHeaders < 1) throw new Error('ChainView: recentHeaders must be positive');
  }

  private now(): number {
    return (this.options.nowMs ?? Date.now)();
  }

  /** Records a committed header (from the fan-out or a query); out-of-order ones never go back. */
  observe(header: BlockHeader): void {
    if (this.latestHeader === undefined || header.number >= this.latestHeader.number) {
      this.latestHeader = header;
      this.latestAtMs = this.now();
    }
    if (!this.recent.has(header.number)) {
      this.recent.set(header.number, header);
      while (this.recent.size > this.options.recentHeaders) {
        this.recent.delete(this.recent.keys().next().value as bigint);
      }
    }
  }

  /** Latest header, asking the state service when none is cached or the cache is old. */
  async latest(): Promise<BlockHeader | undefined> {
    if (this.latestHeader === undefined || this.now() - this.latestAtMs > this.options.headMaxAgeMs) {
      const head = await this.backend.head();
      if (head.header !== undefined) this.observe(head.header);
      this.latestAtMs = this.now();
    }
    return this.latestHeader;
  }

  /** Latest header without a round trip (may be undefined before the first block is seen). */
  latestCached(): BlockHeader | undefined {
    return this.latestHeader;
  }

  recentHeader(number: bigint): BlockHeader | undefined {
    return this.recent.get(number);
  }

  /**
   * The base fee a new transaction must pay: the latest block's. Lanes' block env carries its base
   * fee from the head; when it changes, the fan-out updates this.
   */
  baseFeePerGas(): bigint {
    return this.latestHeader === undefined ? this.options.genesisBaseFeePerGas : bytesToBigint(this.latestHeader.baseFeePerGas);
  }
}
