// Cheaper keys for @ethereumjs/evm's Journal (EIP-2929 warm sets, EIP-161 touched accounts).
//
// The journal keys its maps by lowercase unprefixed hex strings and spells them through generic
// helpers: noble's bytesToHex appends two digits at a time (a rope of 20 or 32 pieces, flattened
// again when the string is hashed), Address.toString adds '0x' for touchAddress to slice it off,
// stripHexPrefix runs a regular expression over every address runTx warms (the sender, the
// recipient, the coinbase and each of the ≈ 18 precompiles, per tx), and cleanup turns every
// touched key back into bytes through '0x' + key and another regular expression. Counted with
// bench:instructions, that was ≈ 10 % of a plain transfer.
//
// Here the same methods make the same strings with a table speller (one native latin1 slice),
// remember what stripHexPrefix gave for the strings runTx passes every tx (the precompiles' keys
// are the same string objects each time), and decode keys with a table. The maps, their keys and
// every other method stay the library's, so stock and tuned methods can be mixed freely; a test
// drives both journals through the same random operations and compares all their maps.
import { Hardfork } from '@ethereumjs/common';
import { Address } from '@ethereumjs/util';

type SlotSets = Map<string, Set<string>>;
type JournalDiff = Array<[number, [Set<string>, SlotSets, Set<string>]]>;

/** The parts of @ethereumjs/evm's Journal the tuned methods read and write (asserted at install). */
export interface JournalInternals {
  DEBUG: boolean;
  journal: SlotSets;
  alwaysWarmJournal: SlotSets;
  touched: Set<string>;
  journalDiff: JournalDiff;
  accessList?: SlotSets;
  preimages?: Map<string, Uint8Array>;
  common: { gteHardfork(hardfork: string): boolean };
  stateManager: { getAccount(address: Address): Promise<{ isEmpty(): boolean } | undefined> };
  touchAccount(address: string): void;
  deleteAccount(address: Address): Promise<void>;
  cleanJournal(): void;
  touchAddress(address: Address): void;
  isWarmedAddress(address: Uint8Array): boolean;
  addWarmedAddress(address: Uint8Array): void;
  isWarmedStorage(address: Uint8Array, slot: Uint8Array): boolean;
  addWarmedStorage(address: Uint8Array, slot: Uint8Array): void;
  addAlwaysWarmAddress(address: string, addToAccessList?: boolean): void;
  cleanup(): Promise<void>;
}

export class JournalTuningError extends Error {
  override readonly name = 'JournalTuningError';
}

const HEX_VALUES = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < 16; i++) {
    table['0123456789abcdef'.charCodeAt(i)] = i;
    table['0123456789ABCDEF'.charCodeAt(i)] = i;
  }
  return table;
})();

/** The two lowercase hex digits of each byte value as latin1 codes, the first digit in the low byte. */
const HEX_PAIRS = (() => {
  const digits = '0123456789abcdef';
  const pairs = new Uint16Array(256);
  for (let i = 0; i < 256; i++) pairs[i] = digits.charCodeAt(i >> 4) | (digits.charCodeAt(i & 15) << 8);
  return pairs;
})();
/** The longest journal key: a 32-byte slot. */
const MAX_SPELLED = 32;
const spelling = Buffer.alloc(2 * MAX_SPELLED);

/** Lowercase hex of `bytes`, no 0x, as the journal spells its keys: one latin1 slice of a scratch buffer. */
export function journalKey(bytes: Uint8Array): string {
  if (bytes.length > MAX_SPELLED) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const pair = HEX_PAIRS[bytes[i]!]!;
    spelling[o++] = pair & 0xff;
    spelling[o++] = pair >> 8;
  }
  return spelling.toString('latin1', 0, o);
}

/** The 20 bytes of a journal key (40 hex digits, as the journal spells addresses). */
function addressBytes(key: string): Uint8Array {
  if (key.length !== 40) throw new JournalTuningError(`journal key ${key} is not an address`);
  const out = new Uint8Array(20);
  for (let i = 0; i < 20; i++) {
    const hi = HEX_VALUES[key.charCodeAt(2 * i)] ?? -1;
    const lo = HEX_VALUES[key.charCodeAt(2 * i + 1)] ?? -1;
    if (hi < 0 || lo < 0) throw new JournalTuningError(`journal key ${key} is not hex`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Strings stripHexPrefix has seen, with its answer: runTx passes the same few every tx. */
const MAX_STRIPPED = 4096;
const HEX_STRING = /^0x[0-9A-Fa-f]*$/;

class StrippedPrefixes {
  private readonly memo = new Map<string, string>();

  /** What @ethereumjs/util's stripHexPrefix returns: without '0x' when the whole string is 0x-hex. */
  of(value: string): string {
    let stripped = this.memo.get(value);
    if (stripped === undefined) {
      stripped = HEX_STRING.test(value) ? value.slice(2) : value;
      if (this.memo.size >= MAX_STRIPPED) this.memo.clear();
      this.memo.set(value, stripped);
    }
    return stripped;
  }
}

const REQUIRED_METHODS = [
  'touchAccount', 'deleteAccount', 'cleanJournal', 'touchAddress', 'isWarmedAddress', 'addWarmedAddress',
  'isWarmedStorage', 'addWarmedStorage', 'addAlwaysWarmAddress', 'cleanup',
] as const;

function assertShape(journal: JournalInternals): void {
  for (const name of REQUIRED_METHODS) {
    if (typeof journal[name] !== 'function') throw new JournalTuningError(`@ethereumjs/evm layout changed: Journal.${name} is not a method`);
  }
  if (!(journal.journal instanceof Map) || !(journal.alwaysWarmJournal instanceof Map) || !(journal.touched instanceof Set) || !Array.isArray(journal.journalDiff)) {
    throw new JournalTuningError('@ethereumjs/evm layout changed: Journal maps not found');
  }
  if (typeof journal.common?.gteHardfork !== 'function' || typeof journal.stateManager?.getAccount !== 'function') {
    throw new JournalTuningError('@ethereumjs/evm layout changed: Journal.common or Journal.stateManager not found');
  }
}

/** The slot sets of the newest diff: what revert undoes. */
function newestDiff(j: JournalInternals): [Set<string>, SlotSets, Set<string>] {
  return j.journalDiff[j.journalDiff.length - 1]![1];
}

/**
 * Gives one journal the cheaper methods, as own properties (the class is untouched, so an EVM
 * built with `tuned: false` keeps the stock ones). A journal that logs (DEBUG) is left stock.
 */
export function tuneJournal(journal: JournalInternals): void {
  assertShape(journal);
  if (journal.DEBUG) return;
  const stripped = new StrippedPrefixes();
  const methods: Partial<JournalInternals> = {
    touchAddress(this: JournalInternals, address: Address): void {
      this.touchAccount(journalKey(address.bytes));
    },
    isWarmedAddress(this: JournalInternals, address: Uint8Array): boolean {
      const key = journalKey(address);
      return this.journal.has(key) || this.alwaysWarmJournal.has(key);
    },
    addWarmedAddress(this: JournalInternals, address: Uint8Array): void {
      const key = journalKey(address);
      if (!this.journal.has(key)) {
        this.journal.set(key, new Set());
        newestDiff(this)[0].add(key);
      }
      if (this.accessList !== undefined && !this.accessList.has(key)) this.accessList.set(key, new Set());
    },
    isWarmedStorage(this: JournalInternals, address: Uint8Array, slot: Uint8Array): boolean {
      const key = journalKey(address);
      const slots = this.journal.get(key);
      if (slots !== undefined && slots.has(journalKey(slot))) return true;
      const always = this.alwaysWarmJournal.get(key);
      return always !== undefined && always.has(journalKey(slot));
    },
    addWarmedStorage(this: JournalInternals, address: Uint8Array, slot: Uint8Array): void {
      const key = journalKey(address);
      let slots = this.journal.get(key);
      if (slots === undefined) {
        this.addWarmedAddress(address);
        slots = this.journal.get(key)!;
      }
      const slotKey = journalKey(slot);
      if (!slots.has(slotKey)) {
        slots.add(slotKey);
        const bySlot = newestDiff(this)[1];
        let diffSlots = bySlot.get(key);
        if (diffSlots === undefined) {
          diffSlots = new Set();
          bySlot.set(key, diffSlots);
        }
        diffSlots.add(slotKey);
      }
      // As the library does: an access list being reported holds the address by now.
      if (this.accessList !== undefined) this.accessList.get(key)!.add(slotKey);
    },
    addAlwaysWarmAddress(this: JournalInternals, addressStr: string, addToAccessList = false): void {
      const key = stripped.of(addressStr);
      if (!this.alwaysWarmJournal.has(key)) this.alwaysWarmJournal.set(key, new Set());
      if (addToAccessList && this.accessList !== undefined && !this.accessList.has(key)) this.accessList.set(key, new Set());
    },
    async cleanup(this: JournalInternals): Promise<void> {
      if (this.common.gteHardfork(Hardfork.SpuriousDragon)) {
        for (const key of this.touched) {
          const address = new Address(addressBytes(key));
          const account = await this.stateManager.getAccount(address);
          if (account === undefined || account.isEmpty()) await this.deleteAccount(address);
        }
      }
      this.cleanJournal();
      delete this.accessList;
      delete this.preimages;
    },
  };
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(journal, name, { value: fn, configurable: true, writable: true });
  }
}
