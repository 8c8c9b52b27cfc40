import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { KeyFilterRequest, KeyFilterResponse } from '../../gen/lanes/v1/bus.js';
import { natsSuite } from '../../test/support/natsSuite.js';
import { serve } from '../bus/nats.js';
import { STATE_KEY_FILTER_SUBJECT } from '../bus/subjects.js';
import { KEY_FILTER_FORM, KeyFilter } from '../state/keyFilter.js';
import { accountKey } from '../state/keys.js';
import { requestKeyFilter } from './keyFilterKeeper.js';

describe('requestKeyFilter', () => {
  const nats = natsSuite();

  it('takes a filter of its own key form and refuses one of another, whose hashes would miss keys that were written', async () => {
    const written = accountKey(Buffer.alloc(20, 7));
    const filter = KeyFilter.create(1_000, 3n);
    filter.add(written);
    const data = filter.data();
    let form = KEY_FILTER_FORM;
    const sub = serve(nats.nc, STATE_KEY_FILTER_SUBJECT, KeyFilterRequest, KeyFilterResponse, () => ({
      height: data.height, added: BigInt(data.added), capacity: BigInt(data.capacity), hashes: data.hashes,
      bits: Buffer.from(data.bits), error: '', building: false, keyForm: form,
    }), () => { throw new Error('unreachable'); }, { maxConcurrent: 1, maxPending: 4 }, pino({ level: 'silent' }));
    try {
      const same = await requestKeyFilter(nats.nc, 2_000);
      expect(same).toBeInstanceOf(KeyFilter);
      expect((same as KeyFilter).mayContain(written)).toBe(true);
      form = 0; // a writer from before key forms: it hashed hex spellings
      const other = await requestKeyFilter(nats.nc, 2_000);
      expect(other).toEqual({ reason: expect.stringMatching(/form 0, this process form 2/), building: false });
    } finally {
      sub.unsubscribe();
    }
  });
});
