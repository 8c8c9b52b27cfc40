// eth_getLogs filter semantics, shared by every backend: an address list (any of; empty = any)
// and topic positions (position i: empty = wildcard, otherwise the log's topic i is any of them).
// As in geth, a filter with more topic positions than a log has topics never matches that log,
// even when the extra positions are wildcards.
import type { Log } from '../../gen/lanes/v1/types.js';
import { bloomBits, bloomHasBits } from '../../lib/chain/block.js';

export interface LogFilterCriteria {
  addresses: Buffer[];
  topics: Buffer[][];
}

/** A filter with its bloom bits computed once, so scanning many blocks costs no hashing. */
export interface CompiledLogFilter {
  criteria: LogFilterCriteria;
  addressBits: number[][];
  topicBits: number[][][];
}

export function compileLogFilter(criteria: LogFilterCriteria): CompiledLogFilter {
  return {
    criteria,
    addressBits: criteria.addresses.map(bloomBits),
    topicBits: criteria.topics.map((anyOf) => anyOf.map(bloomBits)),
  };
}

export function logMatches(filter: LogFilterCriteria, log: Log): boolean {
  if (filter.addresses.length > 0 && !filter.addresses.some((a) => a.equals(log.address))) return false;
  if (filter.topics.length > log.topics.length) return false;
  for (let i = 0; i < filter.topics.length; i++) {
    const anyOf = filter.topics[i]!;
    if (anyOf.length === 0) continue;
    const topic = log.topics[i]!;
    if (!anyOf.some((t) => t.equals(topic))) return false;
  }
  return true;
}

/** False when the block's logs bloom proves no log of the block can match. */
export function bloomMayMatch(filter: CompiledLogFilter, bloom: Uint8Array): boolean {
  if (filter.addressBits.length > 0 && !filter.addressBits.some((bits) => bloomHasBits(bloom, bits))) return false;
  for (const anyOf of filter.topicBits) {
    if (anyOf.length > 0 && !anyOf.some((bits) => bloomHasBits(bloom, bits))) return false;
  }
  return true;
}
