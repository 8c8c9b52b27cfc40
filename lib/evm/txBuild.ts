// Builds the @ethereumjs/tx object runTx needs from a signed EIP-1559 transaction without running
// the library's constructor. That constructor re-validates every field through generic helpers
// (Object.entries over the fields, hex strings, a Common lookup per check): bench:instructions
// counts ≈ 88k instructions per tx for it, a fifth of a whole plain transfer's execution.
//
// Lanes already checks transactions itself, more strictly than the library does
// (lib/chain/decode.ts, whose tests build every transaction it accepts in the library too). So an
// executor checks the fields that way, minus the sender's recovery (ingress recovered it; runTx
// is handed the sender), and assigns the fields the library's constructor would assign, in its
// order (the same hidden class as a library-built object). Anything else — a failed check, another
// type, a Common whose rules those checks do not cover — returns null and goes through the library,
// which then produces its own error for the receipt. txBuild.test.ts compares the objects field
// by field with the library's, for valid transactions and mutated ones.
import type { Common } from '@ethereumjs/common';
import { FeeMarket1559Tx, paramsTx, TransactionType, type TypedTransaction } from '@ethereumjs/tx';
import { Address } from '@ethereumjs/util';
import { checkTransactionFields } from '../chain/decode.js';

/**
 * A Common for parsing transactions that the tx library cannot copy. Every transaction
 * constructor calls `common.copy()` and then `updateParams(paramsTx)`, which deep-copies the
 * parameter tables through JSON: measured at about as much CPU as executing an ERC-20 transfer.
 * Here the parameters are merged once, `copy` returns the same instance and `updateParams`
 * is a no-op, so all transactions share one Common. That is safe because a transaction only
 * reads its Common (parameters, activated EIPs, chain id); the one writer, runTx's
 * `tx.common.setHardfork`, is skipped (skipHardForkValidation: the VM has the same hardfork).
 */
export function sharedTxCommon(base: Common): Common {
  const common = base.copy();
  common.updateParams(paramsTx);
  Object.defineProperty(common, 'copy', { value: () => common });
  Object.defineProperty(common, 'updateParams', { value: () => undefined });
  Object.defineProperty(common, 'setHardfork', {
    value: () => {
      throw new Error('the shared transaction Common is read-only');
    },
  });
  return common;
}

/** A view of the same bytes as a plain Uint8Array, as the library's RLP decoder gives them. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The fields the library's constructor assigns, in its order (see FeeMarket1559Tx's constructor). */
interface FeeMarketFields {
  type: number;
  cache: object;
  activeCapabilities: number[];
  common: Common;
  txOptions: object;
  to: Address | undefined;
  nonce: bigint;
  gasLimit: bigint;
  value: bigint;
  data: Uint8Array;
  v: bigint;
  r: bigint;
  s: bigint;
  chainId: bigint;
  accessList: unknown[];
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** Builds transactions over one shared Common (sharedTxCommon): the objects it returns point at it. */
export class TxBuilder {
  /** Whether the checks in decode.ts cover every rule this Common makes the library apply. */
  private readonly covered: boolean;
  private readonly options: { common: Common; freeze: false };
  private readonly chainId: bigint;
  /** The data fee's inputs, fixed for the shared (read-only) Common. */
  private readonly fee: { hardfork: string; zero: bigint; nonZero: bigint; initCodeWord: bigint | null };

  constructor(private readonly common: Common) {
    // EIP-7825 caps a tx's gas limit in the constructor, a rule decode.ts does not check; EIP-3860
    // is checked there unconditionally (stricter when it is not active).
    this.covered = !(common.isActivatedEIP(7825) && !common.isActivatedEIP(8037)) && common.isActivatedEIP(1559);
    this.options = Object.freeze({ common, freeze: false as const });
    this.chainId = common.chainId();
    this.fee = {
      hardfork: common.hardfork(), zero: common.param('txDataZeroGas'), nonZero: common.param('txDataNonZeroGas'),
      initCodeWord: common.isActivatedEIP(3860) ? common.param('initCodeWordGas') : null,
    };
  }

  /**
   * The calldata part of the library's `getDataGas` (the access list's is added to it on each
   * ask), computed once. The library caches it only on frozen transactions, and these are not (see
   * build): each ask added a BigInt per calldata byte. `getDataGas` held ≈ 5k instructions of
   * an ERC-20 transfer; the whole count fell by ≈ 2–3k, within its spread between runs, but a
   * contract's deployment pays it per byte of its code.
   */
  private dataFee(data: Uint8Array, creation: boolean): { value: bigint; hardfork: string } {
    let zeros = 0;
    for (let i = 0; i < data.length; i++) if (data[i] === 0) zeros++;
    let value = BigInt(zeros) * this.fee.zero + BigInt(data.length - zeros) * this.fee.nonZero;
    if (creation && this.fee.initCodeWord !== null) value += this.fee.initCodeWord * BigInt(Math.ceil(data.length / 32));
    return { value, hardfork: this.fee.hardfork };
  }

  /** The library's object for `raw`, not frozen; null when the library itself has to build it. */
  build(raw: Uint8Array): TypedTransaction | null {
    if (!this.covered || raw.length === 0 || raw[0] !== TransactionType.FeeMarketEIP1559) return null;
    let checked;
    try {
      checked = checkTransactionFields(raw, this.common);
    } catch {
      return null;
    }
    const tx = Object.create(FeeMarket1559Tx.prototype) as FeeMarketFields;
    tx.type = TransactionType.FeeMarketEIP1559;
    tx.cache = { dataFee: this.dataFee(checked.data, checked.to === null) };
    tx.activeCapabilities = [];
    tx.common = this.common;
    tx.txOptions = this.options;
    tx.to = checked.to === null ? undefined : new Address(plain(checked.to));
    tx.nonce = checked.nonce;
    tx.gasLimit = checked.gasLimit;
    tx.value = checked.value;
    tx.data = plain(checked.data);
    tx.v = checked.v;
    tx.r = checked.r;
    tx.s = checked.s;
    tx.chainId = this.chainId;
    tx.activeCapabilities = [1559, 2718, 2930];
    tx.accessList = checked.accessListRlp;
    tx.maxFeePerGas = checked.gasPrice;
    tx.maxPriorityFeePerGas = checked.maxPriorityFeePerGas;
    return tx as unknown as TypedTransaction;
  }
}
