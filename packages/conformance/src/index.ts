export type { CaseResult, CaseStatus, SupportLevel, SuiteOptions, BrokerControl, ClusterControl, CaseContext, ConformanceCase } from './case';
export type { ForeignClient, ForeignMessage, ForeignSide } from './foreign';
export { defineConformanceSuite, CASES, CASE_IDS, gate, type ConformanceSuite, type RunHooks } from './suite';
export { toJson, renderText, renderMarkdown, renderHtml, type ConformanceReport } from './report';
export { describeConformance } from './jest';
export { TcpProxy } from './tcp-proxy';
export { Receiver } from './receiver';
