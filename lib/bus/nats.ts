// The thin transport layer: connect to NATS, make sure the streams exist, and typed
// request/reply on top of the proto codecs. Services never touch raw subjects or bytes.
import {
  connect, DiscardPolicy, RetentionPolicy, StorageType,
  type JetStreamManager, type JetStreamOptions, type Msg, type NatsConnection, type Subscription,
} from 'nats';
import type { Logger } from '../log.js';
import { encodeMessage, type MessageEncoder } from './encode.js';
import { BLOCK_STREAM, BLOCK_SUBJECT, MAX_PAYLOAD_BYTES, TX_STREAM, TX_SUBJECT } from './subjects.js';

/** What ts-proto generates for every message type. */
export interface Codec<T> extends MessageEncoder<T> {
  decode(input: Uint8Array): T;
}

export class BusError extends Error {
  constructor(message: string, readonly subject: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusError';
  }
}

export async function connectBus(url: string, name: string, log: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: url,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    timeout: 10_000,
  });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
        log.warn({ natsStatus: status.type, data: String(status.data) }, 'nats connection status');
      }
    }
  })();
  return nc;
}

export interface StreamLimits {
  txStreamMaxBytes: number;
  blockStreamMaxBytes: number;
  /**
   * Copies of each stream in a JetStream cluster (LANES_STREAM_REPLICAS): 3 survives one server's
   * loss; 1 is the only value a single server accepts.
   */
  replicas: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { txStreamMaxBytes: 2 * 1024 ** 3, blockStreamMaxBytes: 4 * 1024 ** 3, replicas: 1 };

/** The streams could not be created or brought to the configured replicas; the message says why. */
export class StreamSetupError extends Error {
  constructor(readonly stream: string, message: string, options?: { cause?: unknown }) {
    super(`stream ${stream}: ${message}`, options);
    this.name = 'StreamSetupError';
  }
}

export interface StreamSetupRetry {
  /** Attempts in all (default 20). */
  attempts?: number;
  /** Wait between attempts (default 500 ms). */
  delayMs?: number;
  /** Told of each failed attempt that will be retried. */
  onRetry?: (err: Error, attempt: number) => void;
}

/**
 * Whether a failed stream request may succeed later: the server did not answer in time, had no
 * responder, or its JetStream was not up yet (a restarted server loading its streams), or a
 * JetStream cluster that has just formed did not know enough peers yet to place the copies ("no
 * suitable peers for placement", seen here on a 3-server cluster seconds after it answered; with
 * more copies than servers it stays so, and the last attempt's error says it). A refusal of the
 * configuration itself (replicas on a single server) is not retried.
 */
export function isTransientNatsError(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (code === 'TIMEOUT' || code === '503' || code === 'DISCONNECT') return true;
    const api = (e as { api_error?: { err_code?: number } }).api_error;
    if (api?.err_code === JS_TEMPORARILY_UNAVAILABLE) return true;
    if (/timeout|no responders|temporarily unavailable|no suitable peers/i.test(e.message)) return true;
  }
  return false;
}

/** The services' retry of stream setup: each failed attempt logged. */
export function streamSetupRetry(log: Logger): StreamSetupRetry {
  return { onRetry: (err, attempt) => log.warn({ err: err.message, attempt }, 'stream setup failed; retrying (nats-server starting?)') };
}

/** JetStream's API error code for "JetStream system temporarily unavailable". */
const JS_TEMPORARILY_UNAVAILABLE = 10008;
/** JetStream's API error code for "stream not found". */
const JS_STREAM_NOT_FOUND = 10059;

/**
 * Creates the streams when missing, with `limits.replicas` copies, and moves an existing stream
 * to that many (JetStream re-replicates it in place). Both are file-backed with "discard new":
 * when full, a publish fails and that failure is the back-pressure ingress turns into an error
 * for clients. A service starts with this, often beside a nats-server that is itself starting or
 * restarting: a request that times out or finds JetStream not up yet is tried again, boundedly
 * (`retry`), rather than stopping the service.
 */
export async function ensureStreams(jsm: JetStreamManager, limits: StreamLimits = DEFAULT_STREAM_LIMITS, retry: StreamSetupRetry = {}): Promise<void> {
  await withSetupRetry(() => ensureStreamsOnce(jsm, limits), retry);
}

/**
 * A service's start: its JetStream manager, then ensureStreams, in one bounded retry. Getting the
 * manager is itself a request (JetStream's account info), which fails the same way beside a
 * nats-server that is starting or restarting.
 */
export async function connectStreams(
  nc: NatsConnection, limits: StreamLimits = DEFAULT_STREAM_LIMITS, retry: StreamSetupRetry = {}, options: JetStreamOptions = {},
): Promise<JetStreamManager> {
  let jsm: JetStreamManager | null = null;
  return withSetupRetry(async () => {
    jsm ??= await nc.jetstreamManager(options);
    await ensureStreamsOnce(jsm, limits);
    return jsm;
  }, retry);
}

async function withSetupRetry<T>(attemptOnce: () => Promise<T>, retry: StreamSetupRetry): Promise<T> {
  const attempts = retry.attempts ?? 20;
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptOnce();
    } catch (err) {
      if (attempt >= attempts || !isTransientNatsError(err)) throw err;
      retry.onRetry?.(err as Error, attempt);
      await new Promise((resolve) => setTimeout(resolve, retry.delayMs ?? 500));
    }
  }
}

async function ensureStreamsOnce(jsm: JetStreamManager, limits: StreamLimits): Promise<void> {
  if (!(Number.isInteger(limits.replicas) && limits.replicas >= 1 && limits.replicas <= 5)) {
    throw new StreamSetupError('*', `replicas must be an integer from 1 to 5, got ${limits.replicas}`);
  }
  const wanted = [
    { name: TX_STREAM, subjects: [TX_SUBJECT], max_bytes: limits.txStreamMaxBytes },
    { name: BLOCK_STREAM, subjects: [BLOCK_SUBJECT], max_bytes: limits.blockStreamMaxBytes },
  ];
  for (const stream of wanted) {
    // Only "not found" means create it: a timeout is not an answer (and is retried above).
    const existing = await jsm.streams.info(stream.name).catch((err: unknown) => {
      if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === JS_STREAM_NOT_FOUND) return null;
      if (err instanceof Error && /stream not found/i.test(err.message)) return null;
      throw err;
    });
    if (existing !== null) {
      if (existing.config.num_replicas !== limits.replicas) {
        // One nats-server accepts this update and keeps one copy; creating such a stream it refuses.
        if (limits.replicas > 1 && existing.cluster === undefined) {
          throw new StreamSetupError(stream.name, `cannot move from ${existing.config.num_replicas} to ${limits.replicas} replicas: replicas > 1 not supported in non-clustered mode (one nats-server, not a JetStream cluster)`);
        }
        try {
          await jsm.streams.update(stream.name, { ...existing.config, num_replicas: limits.replicas });
        } catch (err) {
          throw new StreamSetupError(stream.name, `cannot move from ${existing.config.num_replicas} to ${limits.replicas} replicas: ${(err as Error).message}`, { cause: err });
        }
      }
      continue;
    }
    try {
      await jsm.streams.add({
        name: stream.name,
        subjects: stream.subjects,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.New,
        max_bytes: stream.max_bytes,
        max_msg_size: MAX_PAYLOAD_BYTES,
        duplicate_window: 120_000_000_000, // 2 min in ns: retried publishes are deduplicated
        num_replicas: limits.replicas,
      });
    } catch (err) {
      // Another service may have created it at the same time.
      await jsm.streams.info(stream.name).catch(() => {
        throw new StreamSetupError(stream.name, `cannot create with ${limits.replicas} replica(s): ${(err as Error).message}`, { cause: err });
      });
    }
  }
}

export async function request<Req, Res>(
  nc: NatsConnection, subject: string, reqCodec: Codec<Req>, req: Req, resCodec: Codec<Res>, timeoutMs: number,
): Promise<Res> {
  return requestEncoded(nc, subject, encodeMessage(reqCodec, req), resCodec, timeoutMs);
}

/**
 * `request` with the request already encoded: for a sender that retries the same request, or
 * that keeps it while it is in flight and should not keep its object graph alive meanwhile.
 */
export async function requestEncoded<Res>(
  nc: NatsConnection, subject: string, payload: Uint8Array, resCodec: Codec<Res>, timeoutMs: number,
): Promise<Res> {
  let reply: Msg;
  try {
    reply = await nc.request(subject, payload, { timeout: timeoutMs });
  } catch (err) {
    throw new BusError(`request on ${subject} failed: ${(err as Error).message}`, subject, { cause: err });
  }
  return resCodec.decode(reply.data);
}

export interface ServeOptions {
  queue?: string;
  /** Requests handled at once; further ones wait in the subscription (bounded by maxPending). */
  maxConcurrent: number;
  /** Requests waiting beyond this are answered at once with `busy(req)` instead of queueing. */
  maxPending: number;
}

/** Serves a request/reply subject with bounded concurrency. Handler errors become `onError` replies. */
export function serve<Req, Res>(
  nc: NatsConnection, subject: string, reqCodec: Codec<Req>, resCodec: Codec<Res>,
  handler: (req: Req) => Promise<Res> | Res,
  onError: (err: unknown) => Res,
  options: ServeOptions,
  log: Logger,
): Subscription {
  const sub = nc.subscribe(subject, options.queue === undefined ? {} : { queue: options.queue });
  let active = 0;
  const waiting: Msg[] = [];
  const run = (msg: Msg): void => {
    active++;
    void (async () => {
      let res: Res;
      try {
        res = await handler(reqCodec.decode(msg.data));
      } catch (err) {
        log.error({ err, subject }, 'request handler failed');
        res = onError(err);
      }
      try {
        msg.respond(encodeMessage(resCodec, res));
      } catch (err) {
        log.error({ err, subject }, 'reply failed');
      }
      active--;
      const next = waiting.shift();
      if (next !== undefined) run(next);
    })();
  };
  void (async () => {
    for await (const msg of sub) {
      if (active < options.maxConcurrent) run(msg);
      else if (waiting.length < options.maxPending) waiting.push(msg);
      else msg.respond(encodeMessage(resCodec, onError(new BusError('busy: too many pending requests', subject))));
    }
  })();
  return sub;
}
