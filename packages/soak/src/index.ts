export { parseDuration, parseRate, formatDuration } from './parse';
export { SoakLedger, longestGap, median, type SendErrorCount, type SoakCounts } from './ledger';
export { restartResults, spread, type RestartTiming, type RestartResult, type Spread } from './restarts';
export {
  runSoak,
  runShell,
  soakBody,
  soakSeq,
  SOAK_DEFAULTS,
  MIN_SOAK_MESSAGE_SIZE,
  MAX_EXTENSION_MS,
  type SoakOptions,
  type SoakResult,
  type ConsumerFailure,
  type LibraryErrorCount,
  type ConnectFn,
} from './soak';
export { renderText, renderMarkdown, toJson } from './report';
export { rotatingNodeKills, type NodeControl } from './node-kills';
