export { main, USAGE, COMMANDS, commandHelp, registerInstalledDrivers } from './main';
export {
  conformanceCommand,
  parseConformanceArgs,
  reportCommand,
  readReportFile,
  writeReport,
  runShell,
  CONFORMANCE_COMMAND,
  REPORT_COMMAND,
  type ConformanceArgs,
} from './conformance-command';
export { BENCH_COMMAND } from './bench-command';
export { renderCommandHelp, type CommandSpec, type FlagSpec } from './flags';
export { processOutput, fitLine, DEFAULT_COLUMNS, UsageError, writeUserFile, type Output, type OutputStreams } from './output';
export { soakCommand, parseSoakArgs, nodeKiller, SOAK_COMMAND, SOAK_COMMAND_DEFAULTS, type SoakArgs } from './soak-command';
export { parseNodeCommands, clusterControlOf, forNode, NODE_FLAGS, type NodeCommands } from './node-commands';
