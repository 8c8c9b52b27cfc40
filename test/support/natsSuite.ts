// Test helper: a real nats-server and one client connection for a describe block, started before
// its tests and closed after them (the pattern every bus test file repeated).
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type NatsServerHandle } from './natsServer.js';

export interface NatsSuite {
  /** The server; set once the suite's beforeAll has run. */
  readonly server: NatsServerHandle;
  /** A connection to it; set once the suite's beforeAll has run. */
  readonly nc: NatsConnection;
}

/** Call inside a describe block; read `server` and `nc` inside its tests. */
export function natsSuite(options: Omit<ConnectionOptions, 'servers'> = {}): NatsSuite {
  let server: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ ...options, servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`natsSuite: ${what} read before the suite's beforeAll ran`);
    return value;
  };
  return {
    get server() { return started(server, 'server'); },
    get nc() { return started(nc, 'nc'); },
  };
}
