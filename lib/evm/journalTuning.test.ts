// The tuned journal methods must leave a Journal exactly as the stock ones do: two journals, one
// tuned, go through the same random operations (touches, warm addresses and slots, always-warm
// strings with and without 0x, checkpoints, commits, reverts, access-list reporting, cleanup)
// and after every step their maps, their answers and what cleanup deleted must be equal.
import { Address } from '@ethereumjs/util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainCommon } from '../chain/common.js';
import { accountKey, EMPTY_CODE_HASH, encodeAccount } from '../state/keys.js';
import { tuneJournal, type JournalInternals } from './journalTuning.js';
import { JournaledStateView, MapStateSource } from './stateView.js';
import { fastHardforkOrder } from './tuning.js';

type JournalClass = new (stateManager: unknown, common: unknown) => JournalInternals & {
  journalHeight: number;
  checkpoint(): Promise<void>;
  commit(): Promise<void>;
  revert(): Promise<void>;
  startReportingAccessList(): void;
  addAlwaysWarmSlot(address: string, slot: string, addToAccessList?: boolean): void;
};

async function journalClass(): Promise<JournalClass> {
  const entry = import.meta.resolve('@ethereumjs/evm');
  const mod = (await import(new URL('./journal.js', entry).href)) as { Journal: JournalClass };
  return mod.Journal;
}

const CHAIN_ID = 31337n;
const ADDRESSES = [
  Buffer.alloc(20, 0x11),
  Buffer.from('000000000000000000000000000000000000000003', 'hex').subarray(1), // RIPEMD-160, kept touched on revert
  Buffer.from('ABCDEF0123456789abcdef0123456789ABCDEF01', 'hex'),
  Buffer.alloc(20, 0),
  Buffer.alloc(20, 0xfe),
];
const SLOTS = [Buffer.alloc(32, 0), Buffer.alloc(32, 0x7f), Buffer.from([1]), Buffer.alloc(40, 0x33)];

type Op =
  | { op: 'touch' | 'warm' | 'isWarm'; a: number }
  | { op: 'warmSlot' | 'isWarmSlot'; a: number; s: number }
  | { op: 'alwaysWarm'; a: number; spelling: number; list: boolean }
  | { op: 'alwaysWarmSlot'; a: number; s: number; list: boolean }
  | { op: 'checkpoint' | 'commit' | 'revert' | 'report' | 'cleanup' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('touch' as const, 'warm' as const, 'isWarm' as const), a: fc.nat(ADDRESSES.length - 1) }),
  fc.record({ op: fc.constantFrom('warmSlot' as const, 'isWarmSlot' as const), a: fc.nat(ADDRESSES.length - 1), s: fc.nat(SLOTS.length - 1) }),
  fc.record({ op: fc.constant('alwaysWarm' as const), a: fc.nat(ADDRESSES.length - 1), spelling: fc.nat(3), list: fc.boolean() }),
  fc.record({ op: fc.constant('alwaysWarmSlot' as const), a: fc.nat(ADDRESSES.length - 1), s: fc.nat(SLOTS.length - 1), list: fc.boolean() }),
  fc.record({ op: fc.constantFrom('checkpoint' as const, 'commit' as const, 'revert' as const, 'report' as const, 'cleanup' as const) }),
);

/** The ways runTx and the EVM spell an address for addAlwaysWarmAddress, and one that is not hex. */
function spell(address: Buffer, spelling: number): string {
  const hex = address.toString('hex');
  return [hex, `0x${hex}`, `0x${hex.toUpperCase()}`, `0x${hex}zz`][spelling]!;
}

function sets(m: Map<string, Set<string>> | undefined): unknown {
  return m === undefined ? null : [...m].map(([k, v]) => [k, [...v]]);
}

function snapshot(j: InstanceType<JournalClass>): unknown {
  return {
    height: j.journalHeight,
    journal: sets(j.journal),
    alwaysWarm: sets(j.alwaysWarmJournal),
    touched: [...j.touched],
    diff: j.journalDiff.map(([h, [a, s, t]]) => [h, [...a], sets(s), [...t]]),
    accessList: sets(j.accessList),
  };
}

function stateView(): JournaledStateView {
  const state = new Map<string, Buffer>();
  ADDRESSES.forEach((a, i) => {
    // 3 is absent; 4 is stored but empty (EIP-161): cleanup deletes both once touched.
    if (i !== 3) state.set(accountKey(a), encodeAccount({ nonce: BigInt(i % 4), balance: i === 4 ? 0n : 10n ** 18n, codeHash: EMPTY_CODE_HASH }));
  });
  const view = new JournaledStateView();
  view.beginTx(new MapStateSource(state));
  return view;
}

async function apply(j: InstanceType<JournalClass>, op: Op): Promise<unknown> {
  switch (op.op) {
    case 'touch': return j.touchAddress(new Address(ADDRESSES[op.a]!));
    case 'warm': return j.addWarmedAddress(ADDRESSES[op.a]!);
    case 'isWarm': return j.isWarmedAddress(ADDRESSES[op.a]!);
    case 'warmSlot': return j.addWarmedStorage(ADDRESSES[op.a]!, SLOTS[op.s]!);
    case 'isWarmSlot': return j.isWarmedStorage(ADDRESSES[op.a]!, SLOTS[op.s]!);
    case 'alwaysWarm': return j.addAlwaysWarmAddress(spell(ADDRESSES[op.a]!, op.spelling), op.list);
    case 'alwaysWarmSlot': return j.addAlwaysWarmSlot(`0x${ADDRESSES[op.a]!.toString('hex')}`, `0x${SLOTS[op.s]!.toString('hex')}`, op.list);
    case 'checkpoint': return j.checkpoint();
    case 'commit': return j.journalHeight > 0 ? j.commit() : undefined;
    case 'revert': return j.journalHeight > 0 ? j.revert() : undefined;
    case 'report': return j.startReportingAccessList();
    case 'cleanup': return j.cleanup();
  }
}

/** What an operation did: its answer, or the error it threw (by message). */
async function outcome(j: InstanceType<JournalClass>, op: Op): Promise<unknown> {
  try {
    return { value: await apply(j, op) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('journal tuning', () => {
  it('leaves a journal as the stock methods do, after every operation', async () => {
    const Journal = await journalClass();
    await fc.assert(fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), async (ops) => {
      const stockView = stateView();
      const tunedView = stateView();
      const stock = new Journal(stockView, chainCommon(CHAIN_ID));
      const tuned = new Journal(tunedView, chainCommon(CHAIN_ID));
      tuneJournal(tuned);
      expect(Object.hasOwn(tuned, 'cleanup') && !Object.hasOwn(stock, 'cleanup')).toBe(true);
      for (const op of ops) {
        expect(await outcome(tuned, op)).toEqual(await outcome(stock, op));
        expect(snapshot(tuned)).toEqual(snapshot(stock));
      }
      // What cleanup deleted reached the state view the same way.
      const writes = (v: JournaledStateView): unknown => [...v.accessSets().writes].map(([k, val]) => [k, val?.toString('hex') ?? null]);
      expect(writes(tunedView)).toEqual(writes(stockView));
    }), { numRuns: 300 });
  });

  it('refuses a journal whose shape changed, and leaves a logging journal stock', async () => {
    const Journal = await journalClass();
    const broken = new Journal(stateView(), chainCommon(CHAIN_ID)) as unknown as Record<string, unknown>;
    broken.touched = [];
    expect(() => tuneJournal(broken as unknown as JournalInternals)).toThrow(/layout changed/);
    const logging = new Journal(stateView(), chainCommon(CHAIN_ID));
    logging.DEBUG = true;
    tuneJournal(logging);
    expect(Object.hasOwn(logging, 'cleanup')).toBe(false);
  });
});

describe('hardfork order', () => {
  it('answers hardforkGteHardfork as Common does, for every pair, and follows setHardfork', () => {
    const plain = chainCommon(CHAIN_ID).copy();
    const fast = chainCommon(CHAIN_ID).copy();
    fastHardforkOrder(fast);
    const names = [...plain.hardforks().map((h) => h.name), 'no-such-fork'];
    for (const current of ['london', 'cancun', plain.hardfork()]) {
      plain.setHardfork(current);
      fast.setHardfork(current);
      for (const a of [null, ...names]) {
        for (const b of names) expect(fast.hardforkGteHardfork(a, b)).toBe(plain.hardforkGteHardfork(a, b));
      }
      for (const b of names) expect(fast.gteHardfork(b)).toBe(plain.gteHardfork(b));
    }
  });
});
