export { median, percentile, percentileSorted, ratio, formatRatio, formatRate, formatMs, formatMiB } from './stats';
export { startMemorySampler, tryGc, type MemorySampler, type MemoryStats } from './memory-sampler';
export {
  runOnce,
  makeBody,
  readBody,
  WORKLOAD_DEFAULTS,
  MIN_MESSAGE_SIZE,
  type BenchParams,
  type BenchTarget,
  type ConsumerSink,
  type TargetFactory,
  type RunMeasurement,
} from './workload';
export { switchboardTarget, type ConnectFn } from './switchboard-target';
export { rawKafka, RAW_KAFKA_PARTITIONS } from './raw/kafka';
export { rawRabbitMQ } from './raw/rabbitmq';
export { rawSqs, sqsClientConfig, sqsReceiveLoops } from './raw/sqs';
export { rawNats } from './raw/nats';
export {
  runBench,
  summarize,
  ratios,
  backendName,
  rawBaselineFor,
  type BenchOptions,
  type BenchReport,
  type BackendResult,
  type ImplResult,
  type ImplSummary,
  type Ratios,
  type RawBaseline,
} from './bench';
export { renderText, renderMarkdown, toJson, tableRows, describeParams, COLUMNS } from './render';
