// The parallel execution engine's pure core: partitioning, multi-version memory, read-set
// validation, hot keys and the conflict report, orchestrated by engine.ts.
export { BlockMemory, type BaseReader, type MemoryEntry } from './blockMemory.js';
export { longestChain, reportToJson, topKeys, TOP_KEYS, type ConflictReport } from './conflictReport.js';
export {
  CHOSEN_SERIAL_REASON, DEFAULT_ENGINE_OPTIONS, EngineInvariantError, ParallelEngine,
  type BlockExecution, type EngineLog, type EngineOptions, type ExecutorPool, type LocalExecution,
} from './engine.js';
export { DEFAULT_HOT_KEY_OPTIONS, HotKeyTracker, type HotKeyOptions } from './hotKeys.js';
export { blocksToSettle, DEFAULT_MODE_CHOOSER_OPTIONS, ModeChooser, type ExecutionMode, type ModeChooserOptions } from './modeChooser.js';
export { planPartitions, type PartitionHints, type PartitionPlan } from './partition.js';
export { validateReadSet, type ReadVersionEntry, type ValidationResult } from './validate.js';
