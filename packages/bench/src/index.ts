export { median, percentile, percentileSorted, ratio, spread, formatRatio, formatRate, formatMs, formatMiB, formatKiB, formatSpread, type Spread } from './stats';
export { startMemorySampler, tryGc, type MemorySampler, type MemoryStats } from './memory-sampler';
export { heapGrowth, type HeapGrowth } from './heap-growth';
export {
  runOnce,
  makeBodies,
  makeBody,
  readBody,
  WORKLOAD_DEFAULTS,
  MIN_MESSAGE_SIZE,
  MAX_RUN_MESSAGES,
  PROGRESS_EVERY,
  type RunHooks,
  type HeapCheckpoint,
  type BenchParams,
  type BenchTarget,
  type ConsumerSink,
  type TargetFactory,
  type RunMeasurement,
} from './workload';
export { switchboardTarget, type ConnectFn, type SwitchboardTargetOptions } from './switchboard-target';
export { rawKafka, rawKafkaBatch, RAW_KAFKA_PARTITIONS, type KafkaConsumeStyle } from './raw/kafka';
export { rawRabbitMQ } from './raw/rabbitmq';
export { rawRedis } from './raw/redis';
export { rawSqs, sqsClientConfig, sqsReceiveLoops } from './raw/sqs';
export { rawNats, rawNatsFireAndForget, type NatsAckStyle } from './raw/nats';
export {
  runBench,
  summarize,
  ratios,
  backendName,
  rawBaselineFor,
  implsFor,
  implFactory,
  ratioRows,
  IMPL_IDS,
  type ImplId,
  type ImplSpec,
  type ImplSpreads,
  type RatioRow,
  type BenchOptions,
  type BenchReport,
  type BackendResult,
  type ImplResult,
  type ImplSummary,
  type Ratios,
  type RawBaseline,
} from './bench';
export { renderText, renderMarkdown, toJson, tableRows, ratioTableRows, checkpointLines, describeParams, COLUMNS, RATIO_COLUMNS } from './render';
export {
  runIdle,
  perConsumer,
  countFds,
  switchboardIdle,
  rawIdleFor,
  rawRabbitMQIdle,
  rawNatsIdle,
  rawKafkaIdle,
  rawSqsIdle,
  IDLE_LIMITS,
  type IdleParams,
  type IdleMeasurement,
  type IdlePerConsumer,
  type IdleTarget,
  type IdleTargetFactory,
  type ProcessSnapshot,
} from './idle-consumers';
export {
  runIdleBench,
  idleTableRows,
  renderIdleText,
  renderIdleMarkdown,
  IDLE_COLUMNS,
  type IdleBenchOptions,
  type IdleReport,
  type IdleImplResult,
  type IdleJob,
  type IdleJobResult,
} from './idle-bench';
export { summarizeProfile, renderProfileSummary, areaOf, type CpuProfile, type ProfileEntry, type ProfileSummary } from './profile-summary';
