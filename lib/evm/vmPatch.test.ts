// The patched @ethereumjs/vm runTx (patches/README.md): `skipReceipt` leaves out the library's
// logs bloom and receipt, which Lanes builds itself (lib/chain/block.ts, whose bloom is compared
// with the library's in block.test.ts), and changes nothing else a transaction does; `afterCall`
// is called once the top-level call has returned, before the fees are paid.
import { Common, Hardfork, Mainnet } from '@ethereumjs/common';
import { createLegacyTx } from '@ethereumjs/tx';
import { Account, Address, createAddressFromPrivateKey, hexToBytes } from '@ethereumjs/util';
import { createVM, runTx, type RunTxResult } from '@ethereumjs/vm';
import { describe, expect, it } from 'vitest';
import { assertVmPatched } from './tuning.js';

const KEY = hexToBytes(`0x${'11'.repeat(32)}`);
// A contract that logs: LOG1 with 32 bytes of memory and one topic, then STOP.
const LOGGER = hexToBytes('0x60aa60005260bb60206000a100');

async function run(skipReceipt: boolean, extra: { afterCall?: () => void; nonce?: bigint } = {}): Promise<RunTxResult> {
  const common = new Common({ chain: Mainnet, hardfork: Hardfork.Cancun });
  const vm = await createVM({ common });
  const sender = createAddressFromPrivateKey(KEY);
  const logger = new Address(hexToBytes(`0x${'22'.repeat(20)}`));
  await vm.stateManager.putAccount(sender, new Account(0n, 10n ** 18n));
  await vm.stateManager.putCode(logger, LOGGER);
  const tx = createLegacyTx({ nonce: extra.nonce ?? 0n, gasPrice: 10n ** 10n, gasLimit: 100_000n, to: logger, value: 1n }, { common }).sign(KEY);
  return runTx(vm, {
    tx, skipBlockGasLimitValidation: true, skipHardForkValidation: true, ...(skipReceipt ? { skipReceipt: true } : {}),
    ...(extra.afterCall !== undefined ? { afterCall: extra.afterCall } : {}),
  } as Parameters<typeof runTx>[1]);
}

describe('patched @ethereumjs/vm runTx', () => {
  it('is what the startup check finds (tuneVm refuses a process without it)', async () => {
    await expect(assertVmPatched()).resolves.toBeUndefined();
  });

  it('is the patched one (patch-package applied it): skipReceipt leaves out the bloom and the receipt, and nothing else', async () => {
    const full = await run(false);
    const lean = await run(true);
    expect(full.bloom).toBeDefined();
    expect(full.receipt).toBeDefined();
    expect(full.execResult.logs).toHaveLength(1);
    expect(lean.bloom).toBeUndefined();
    expect(lean.receipt).toBeUndefined();
    expect(lean.totalGasSpent).toBe(full.totalGasSpent);
    expect(lean.amountSpent).toBe(full.amountSpent);
    expect(lean.execResult.logs).toEqual(full.execResult.logs);
    expect(lean.execResult.exceptionError).toBeUndefined();
  });

  it('calls afterCall once per transaction, when its call has returned, and not for one refused before it', async () => {
    let calls = 0;
    const done = await run(true, { afterCall: () => calls++ });
    expect(calls).toBe(1);
    expect(done.execResult.logs).toHaveLength(1);
    await expect(run(true, { afterCall: () => calls++, nonce: 5n })).rejects.toThrow(/nonce/);
    expect(calls).toBe(1);
  });
});
