// The state writer's key filter (lib/state/keyFilter.ts) on a CommittedStateCache: asked for over
// the bus (lanes.state.keyfilter) by the scheduler and by every executor, whose caches then answer
// misses on keys never written without a read, and keep it current with each block they apply.
import type { NatsConnection } from 'nats';
import { KeyFilterRequest, KeyFilterResponse } from '../../gen/lanes/v1/bus.js';
import { request } from '../bus/nats.js';
import { STATE_KEY_FILTER_SUBJECT } from '../bus/subjects.js';
import type { Logger } from '../log.js';
import { KEY_FILTER_FORM, KeyFilter } from '../state/keyFilter.js';
import type { CommittedStateCache } from './committedState.js';

/** Requests come at most this often: a filter is up to 7.5 MB. */
export const KEY_FILTER_RETRY_MS = 10_000;
/** Sooner while the writer says it is building one (it builds in the background from its start). */
export const KEY_FILTER_BUILDING_RETRY_MS = 1_000;

/** Why the writer has no filter (too many keys, a backend that cannot list them, still building). */
export interface NoKeyFilter {
  reason: string;
  building: boolean;
}

/** The filter, or why the writer has none. */
export async function requestKeyFilter(nc: NatsConnection, timeoutMs: number): Promise<KeyFilter | NoKeyFilter> {
  const res = await request(nc, STATE_KEY_FILTER_SUBJECT, KeyFilterRequest, {}, KeyFilterResponse, timeoutMs);
  if (res.error !== '') return { reason: res.error, building: res.building };
  if (res.keyForm !== KEY_FILTER_FORM) return { reason: `the state writer's filter hashes keys of form ${res.keyForm}, this process form ${KEY_FILTER_FORM}`, building: false };
  return KeyFilter.from({ height: res.height, added: Number(res.added), capacity: Number(res.capacity), hashes: res.hashes, bits: res.bits });
}

export class KeyFilterKeeper {
  private inflight = false;
  private askedMs = -Infinity;
  private retryMs = KEY_FILTER_RETRY_MS;

  constructor(
    private readonly nc: NatsConnection,
    private readonly cache: CommittedStateCache,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Asks for a filter when the cache has none (at start, after a gap) or a full one, at most once
   * per KEY_FILTER_RETRY_MS (KEY_FILTER_BUILDING_RETRY_MS while the writer builds one), one
   * request at a time; never waits for it. Until one arrives,
   * misses on absent keys cost a read, as they did before there was a filter.
   */
  refresh(): void {
    const current = this.cache.filter;
    if (this.inflight || (current !== null && !current.full) || performance.now() - this.askedMs < this.retryMs) return;
    this.inflight = true;
    this.askedMs = performance.now();
    void (async () => {
      try {
        const filter = await requestKeyFilter(this.nc, this.timeoutMs);
        this.retryMs = KEY_FILTER_RETRY_MS;
        if (!(filter instanceof KeyFilter)) {
          if (filter.building) this.retryMs = KEY_FILTER_BUILDING_RETRY_MS;
          else this.log.info({ reason: filter.reason }, 'no key filter from the state writer; absent keys are read');
          return;
        }
        const used = this.cache.setKeyFilter(filter);
        this.log.info({ height: filter.height.toString(), keys: filter.added, capacity: filter.capacity, used }, 'key filter from the state writer');
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'key filter request failed; absent keys are read');
      } finally {
        this.inflight = false;
      }
    })();
  }
}
