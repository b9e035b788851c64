export { main, USAGE, registerInstalledDrivers } from './main';
export { conformanceCommand, writeReport, runShell, type ConformanceArgs } from './conformance-command';
export { processOutput, UsageError, type Output } from './output';
export { soakCommand, parseSoakArgs, SOAK_COMMAND_DEFAULTS, type SoakArgs } from './soak-command';
