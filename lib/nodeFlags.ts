// Node/V8 flags the services that run the EVM or commit blocks start with, in one place: the local cluster
// launcher passes them on the command line and the Kubernetes manifests set the same through
// NODE_OPTIONS (the image runs the service in its entry process, so flags cannot come later;
// V8 reads heap sizes only at start).
//
// A block's results (receipts, write-sets) live until the block ends while the EVM allocates
// tens of kilobytes of short-lived garbage per tx, so with V8's default 16 MB semi-spaces each
// scavenge copies the block's results again and promotes them. 64 MB semi-spaces make scavenges
// four times rarer: measured on the in-scheduler serial path, plain transfers at 2 accounts went
// from 0.89× to 0.93× of the serial baseline (run under the same flag), ERC-20 unchanged.
// The state service decodes each block's commit (hundreds of kilobytes) and hashes its root:
// with 64 MB semi-spaces its GC time over an ERC-20 benchmark at 10,000 accounts fell from
// 1.4 s to 0.5 s, and the part of it that ran while executors were busy from 0.53 s to 0.21 s.
export const SERVICE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  scheduler: ['--max-semi-space-size=64'],
  // --expose-gc: an executor scavenges between blocks rather than mid-partition (lib/idleGc.ts).
  executor: ['--max-semi-space-size=64', '--expose-gc'],
  state: ['--max-semi-space-size=64'],
};

export function serviceNodeFlags(service: string): string[] {
  return [...(SERVICE_NODE_FLAGS[service] ?? [])];
}
