// Node/V8 flags the services that run the EVM or commit blocks start with, in one place: the local cluster
// launcher passes them on the command line, and so do the Kubernetes manifests, as the `command`
// that runs the image's entrypoint (V8 reads heap sizes only at start, and NODE_OPTIONS refuses
// --initial-old-space-size: a service given it there does not start).
//
// A block's results (receipts, write-sets) live until the block ends while the EVM allocates
// tens of kilobytes of short-lived garbage per tx, so with V8's default 16 MB semi-spaces each
// scavenge copies the block's results again and promotes them. 64 MB semi-spaces make scavenges
// four times rarer: measured on the in-scheduler serial path, plain transfers at 2 accounts went
// from 0.89× to 0.93× of the serial baseline (run under the same flag), ERC-20 unchanged.
// The state service decodes each block's commit (hundreds of kilobytes) and hashes its root:
// with 64 MB semi-spaces its GC time over an ERC-20 benchmark at 10,000 accounts fell from
// 1.4 s to 0.5 s, and the part of it that ran while executors were busy from 0.53 s to 0.21 s.
//
// 64 MB semi-spaces have a cost where little lives in old space: V8 starts a mark-compact as soon
// as the old generation's headroom (its limit less its size) is below the young generation's
// capacity, so a process whose limit sits at ≈ 3× a small live set (≈ 30 MB live, ≈ 97 MB limit)
// marks and compacts after every few MB promoted. The state service did so every 2–6 blocks of an
// ERC-20 benchmark at 10,000 accounts (started by a task, "GC in old space requested" in
// --trace-gc; 8–19 in 46), and the executor every 6 (8 in 46), each with 5–28 ms of
// pause and as much again in marking steps, much of it in the next block's time. A 256 MB initial
// old space keeps that headroom: one mark-compact in 230 blocks of the same benchmark, after
// which the limit stayed up. The scheduler service, in a local cluster under 3,000 ERC-20 tx/s at
// 10,000 accounts (`npm run bench`), went from 10 mark-compacts in ≈ 87 blocks to 2. The pods'
// memory limits (2–4 GiB) leave room for it.
//
// The scheduler's semi-spaces are 256 MB. What its scavenges copy is what a block keeps alive
// while it runs (results, read-sets and write-sets, decoded responses: 3–5 MB at 10,000 ERC-20
// accounts), whatever the semi-space's size, and a 500-tx block allocates ≈ 50 MB in it, so at
// 64 MB nearly every block paid one. Three alternated pairs of `bench:engine` (ERC-20, 10,000
// accounts, 1 executor and the scheduler's slot; the bench process plays the scheduler and runs
// with the same flag): GC pauses per block 6.0–7.3 ms against 10.5–11.4, page faults 150–356
// against 492–554, speed-up 0.90–1.00× against 0.83–0.95× (bench/README.md, session 28).
//
// --max-semi-space-size alone is a ceiling, not a size: V8 starts the new space at 1 MB, grows it
// only after scavenges that find much alive, and shrinks it again when allocation slows (between
// blocks). Each time it grows, the pages it takes are new to the process, and the first touch of
// each costs a page fault (≈ 11 µs here): 1,800–9,300 per serial block at 10,000 ERC-20 accounts,
// mostly in the EVM's own allocations (perf record -e page-faults). So the scheduler's semi-spaces
// are fixed at 256 MB from the start (--min-semi-space-size too): after the first two fills the
// young generation's pages stay mapped, and a timed block takes ≈ 20 faults. Alternated runs of
// `bench:engine` (ERC-20, 10,000 accounts, 1 executor and the scheduler's slot; the baseline's
// thread then under the same flag): speed-up 0.87–1.13× against 0.66–0.74×, GC pauses per block
// 6–8 ms against 15–16 (bench/README.md, session 29). On cheap serial txs it costs a few per
// cent (`bench:serial-pair`, transfers at 2 accounts). The process holds ≈ 512 MB of young generation for it.
// Executors with a fixed 64 MB gained nothing measurable (0.95–1.10× against 1.03–1.05×).
//
// A young generation that large needs the old generation's headroom above it (see above): with a
// 256 MB initial old space, ≈ 60 MB live left less headroom than one 256 MB semi-space, and the
// process marked and compacted every ≈ 1 s (every 3–4 blocks), 30–90 ms of pause each plus
// 12–117 ms of marking steps (--trace-gc, serial blocks at 10,000 ERC-20 accounts). With 1024 MB
// it compacted once in the run. The limit is a threshold, not memory taken; with the young
// generation the process may reach ≈ 1.6 GB before it collects, and the pod's limit is 3 GiB.
export const SERVICE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  scheduler: ['--max-semi-space-size=256', '--min-semi-space-size=256', '--initial-old-space-size=1024'],
  // --expose-gc: an executor scavenges between blocks rather than mid-partition (lib/idleGc.ts).
  executor: ['--max-semi-space-size=64', '--initial-old-space-size=256', '--expose-gc'],
  state: ['--max-semi-space-size=64', '--initial-old-space-size=256'],
};

export function serviceNodeFlags(service: string): string[] {
  return [...(SERVICE_NODE_FLAGS[service] ?? [])];
}
