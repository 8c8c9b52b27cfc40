import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['lib/**/*.test.ts', 'services/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Services skip their JIT warm-up (lib/exec/warmUp.ts) in tests, which start dozens of them:
    // cluster.e2e.test.ts turns it on to check it.
    env: { LANES_WARMUP_TXS: '0' },
  },
});
