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
export { soakCommand, parseSoakArgs, SOAK_COMMAND, SOAK_COMMAND_DEFAULTS, type SoakArgs } from './soak-command';
