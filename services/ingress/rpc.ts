// JSON-RPC 2.0 over HTTP (node:http) and WebSocket (`ws`) on one port: framing, batches, limits
// and eth_subscribe("newHeads"). Method logic is in methods.ts. Nothing a client sends may crash
// the process: every parse, handler and socket failure ends as a JSON-RPC error or a closed socket.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { BusError } from '../../lib/bus/nats.js';
import { RpcError, RpcErrorCode, invalidParams, invalidRequest, limitExceeded, methodNotFound, parseError } from '../../lib/chain/errors.js';
import type { Logger } from '../../lib/log.js';
import type { BlockHeader } from '../../gen/lanes/v1/types.js';
import { BackendError, StatePrunedError } from './backend.js';
import { formatHeader } from './format.js';
import { METHODS, type MethodContext, type MethodHandler } from './methods.js';

export interface RpcServerOptions {
  host: string;
  port: number;
  maxRequestBytes: number;
  maxBatchRequests: number;
  maxWsConnections: number;
  /** Subscriptions one WebSocket may hold. */
  maxWsSubscriptions: number;
  /** A WebSocket whose unsent notifications exceed this is closed (slow consumer). */
  maxWsBufferedBytes: number;
}

export interface RpcServer {
  port: number;
  /** Called by the owner for each committed header: fans out newHeads notifications. */
  publishNewHead(header: BlockHeader): void;
  close(closeGraceMs?: number): Promise<void>;
}

type JsonRpcId = string | number | null;
interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** Methods only a WebSocket connection has (they need a place to send notifications to). */
interface ConnectionMethods {
  resolve(method: string): MethodHandler | undefined;
}

const HTTP_METHODS: ConnectionMethods = { resolve: (method) => METHODS.get(method) };

function errorResponse(id: JsonRpcId, err: RpcError): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: err.toJSON() };
}

function isValidId(id: unknown): id is JsonRpcId {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

/** Maps a handler failure to the error a client sees; unexpected ones are logged once, here. */
function toRpcError(err: unknown, method: string, log: Logger): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof StatePrunedError) return new RpcError(RpcErrorCode.Server, err.message);
  if (err instanceof BusError || err instanceof BackendError) {
    log.warn({ err, method }, 'cluster request failed');
    return new RpcError(RpcErrorCode.Server, `cluster unavailable: ${err.message}`);
  }
  log.error({ err, method }, 'rpc handler failed');
  return new RpcError(RpcErrorCode.Internal, 'internal error');
}

export class JsonRpcProcessor {
  constructor(private readonly ctx: MethodContext, private readonly maxBatchRequests: number, private readonly log: Logger) {}

  /** One request body → the response body, or undefined when nothing is to be sent (notifications). */
  async process(text: string, methods: ConnectionMethods): Promise<string | undefined> {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch (err) {
      return JSON.stringify(errorResponse(null, parseError((err as Error).message)));
    }
    if (Array.isArray(payload)) {
      if (payload.length === 0) return JSON.stringify(errorResponse(null, invalidRequest('empty batch')));
      if (payload.length > this.maxBatchRequests) {
        return JSON.stringify(errorResponse(null, limitExceeded(`batch of ${payload.length} requests exceeds ${this.maxBatchRequests}`)));
      }
      // All requests of a batch start in the same tick, so their state reads coalesce.
      const responses = await Promise.all(payload.map((request) => this.one(request, methods)));
      const sent = responses.filter((r): r is JsonRpcResponse => r !== undefined);
      return sent.length === 0 ? undefined : JSON.stringify(sent);
    }
    const response = await this.one(payload, methods);
    return response === undefined ? undefined : JSON.stringify(response);
  }

  private async one(request: unknown, methods: ConnectionMethods): Promise<JsonRpcResponse | undefined> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return errorResponse(null, invalidRequest('expected a request object'));
    }
    const req = request as Record<string, unknown>;
    const hasId = Object.prototype.hasOwnProperty.call(req, 'id');
    const id = hasId && isValidId(req['id']) ? req['id'] : null;
    if (hasId && !isValidId(req['id'])) return errorResponse(null, invalidRequest('id must be a string, a number or null'));
    if (req['jsonrpc'] !== '2.0') return errorResponse(id, invalidRequest('jsonrpc must be "2.0"'));
    if (typeof req['method'] !== 'string') return errorResponse(id, invalidRequest('method must be a string'));
    const method = req['method'];
    const params = req['params'];
    let response: JsonRpcResponse;
    if (params !== undefined && params !== null && !Array.isArray(params)) {
      response = errorResponse(id, invalidParams('params must be an array'));
    } else {
      const handler = methods.resolve(method);
      if (handler === undefined) {
        response = errorResponse(id, methodNotFound(method));
      } else {
        try {
          const result = await handler((params ?? []) as unknown[], this.ctx);
          response = { jsonrpc: '2.0', id, result: result === undefined ? null : result };
        } catch (err) {
          response = errorResponse(id, toRpcError(err, method, this.log));
        }
      }
    }
    return hasId ? response : undefined;
  }
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-allow-headers': 'content-type',
};

function sendJson(res: http.ServerResponse, status: number, body: string, close = false): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...CORS_HEADERS,
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

function tooLarge(res: http.ServerResponse, req: http.IncomingMessage, maxRequestBytes: number): void {
  const body = JSON.stringify(errorResponse(null, limitExceeded(`request body exceeds ${maxRequestBytes} bytes`)));
  sendJson(res, 413, body, true);
  // Stop reading the rest of an oversized upload; the response is already on its way.
  res.once('finish', () => req.destroy());
}

export async function startRpcServer(ctx: MethodContext, options: RpcServerOptions, log: Logger): Promise<RpcServer> {
  const processor = new JsonRpcProcessor(ctx, options.maxBatchRequests, log);

  const server = http.createServer((req, res) => {
    req.on('error', () => { /* client went away; nothing to answer */ });
    res.on('error', () => { /* idem */ });
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS_HEADERS).end();
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, JSON.stringify(errorResponse(null, invalidRequest('only POST is supported'))));
      return;
    }
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > options.maxRequestBytes) {
      tooLarge(res, req, options.maxRequestBytes);
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      bytes += chunk.length;
      if (bytes > options.maxRequestBytes) {
        aborted = true;
        chunks.length = 0;
        tooLarge(res, req, options.maxRequestBytes);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (aborted) return;
      processor.process(Buffer.concat(chunks).toString('utf8'), HTTP_METHODS).then(
        (body) => {
          if (body === undefined) { res.writeHead(204, CORS_HEADERS).end(); return; }
          sendJson(res, 200, body);
        },
        (err: unknown) => {
          log.error({ err }, 'rpc processing failed');
          sendJson(res, 500, JSON.stringify(errorResponse(null, new RpcError(RpcErrorCode.Internal, 'internal error'))));
        },
      );
    });
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.on('clientError', (_err, socket) => { socket.destroy(); });

  const subscriptions = new Map<WebSocket, Set<string>>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxRequestBytes });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => { /* handled by close */ });
    if (subscriptions.size >= options.maxWsConnections) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws));
  });

  const onConnection = (ws: WebSocket): void => {
    const subs = new Set<string>();
    subscriptions.set(ws, subs);
    const methods: ConnectionMethods = {
      resolve: (method) => {
        if (method === 'eth_subscribe') {
          return (params) => {
            if (params.length < 1) throw invalidParams('missing value for required argument 0');
            if (params[0] !== 'newHeads') throw invalidParams(`unsupported subscription type ${JSON.stringify(params[0])}`);
            if (subs.size >= options.maxWsSubscriptions) throw limitExceeded(`at most ${options.maxWsSubscriptions} subscriptions per connection`);
            const id = '0x' + randomBytes(16).toString('hex');
            subs.add(id);
            return id;
          };
        }
        if (method === 'eth_unsubscribe') {
          return (params) => {
            if (params.length !== 1 || typeof params[0] !== 'string') throw invalidParams('expected one subscription id');
            return subs.delete(params[0]);
          };
        }
        return METHODS.get(method);
      },
    };
    ws.on('error', () => { ws.terminate(); }); // e.g. a message above maxPayload (closed with 1009)
    ws.on('close', () => { subscriptions.delete(ws); });
    ws.on('message', (raw: RawData) => {
      const text = Array.isArray(raw) ? Buffer.concat(raw).toString('utf8')
        : Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.from(raw).toString('utf8');
      processor.process(text, methods).then(
        (body) => { if (body !== undefined && ws.readyState === ws.OPEN) ws.send(body); },
        (err: unknown) => { log.error({ err }, 'ws processing failed'); },
      );
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => { server.off('error', reject); resolve(); });
  });
  server.on('error', (err) => log.error({ err }, 'rpc server error'));

  return {
    port: (server.address() as AddressInfo).port,
    publishNewHead(header: BlockHeader): void {
      if (subscriptions.size === 0) return;
      const result = formatHeader(header);
      for (const [ws, subs] of subscriptions) {
        if (subs.size === 0 || ws.readyState !== ws.OPEN) continue;
        if (ws.bufferedAmount > options.maxWsBufferedBytes) {
          ws.close(1013, 'slow consumer: too many unsent notifications');
          continue;
        }
        for (const subscription of subs) {
          ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription, result } }));
        }
      }
    },
    // Stops accepting; requests in flight (a submit waiting for its batch ack) may finish for up
    // to closeGraceMs, then every connection is cut.
    close: (closeGraceMs = 5_000) => new Promise<void>((resolve) => {
      for (const ws of subscriptions.keys()) ws.terminate();
      wss.close();
      const timer = setTimeout(() => server.closeAllConnections(), closeGraceMs);
      server.close(() => { clearTimeout(timer); resolve(); });
      server.closeIdleConnections();
    }),
  };
}
