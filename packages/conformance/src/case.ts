import type { ForeignSide } from './foreign';
import type { Capabilities, CapabilityName, Connection, ConnectOptions, Consumer, ConsumerOptions, Destination, Producer } from '@switchboard/core';

export type CaseStatus = 'passed' | 'failed' | 'unsupported';
export type SupportLevel = 'native' | 'emulated' | 'none';

/** One case's outcome, as the report's `results[]` carries it. */
export interface CaseResult {
  id: string;
  title: string;
  status: CaseStatus;
  support: SupportLevel;
  /** Why it failed, or why it is unsupported. */
  reason?: string;
  /** What was measured, e.g. counts of a load run. */
  detail?: string;
  durationMs: number;
}

/** Hooks that let fault cases act on the broker. */
export interface BrokerControl {
  /** Restarts the broker and resolves once it serves again (F2). */
  restart?: () => Promise<void>;
  /** The broker is a cluster whose nodes the suite may crash (F6). */
  cluster?: ClusterControl;
}

/** A cluster of broker nodes that F6 crashes one node of and starts again. */
export interface ClusterControl {
  /** The nodes, as {@link kill} and {@link start} name them, e.g. `["1", "2", "3"]`. */
  readonly nodes: readonly string[];
  /**
   * The node that leads the replicated log behind `destination` on this URL (a Kafka partition's
   * leader, a JetStream stream's leader, a quorum queue's leader), or undefined when the control
   * cannot tell. F6 crashes that node; without an answer it crashes the first node, the one the URL
   * names first.
   */
  leaderOf?(destination: Destination): Promise<string | undefined>;
  /** Crashes `node` (SIGKILL, no clean shutdown); resolves once it is gone. */
  kill(node: string): Promise<void>;
  /** Starts a killed node again with its data; resolves once it serves and is a member of the cluster again. */
  start(node: string): Promise<void>;
}

export interface SuiteOptions {
  /** Shown in reports, e.g. "kafka". Defaults to the connection's backend name. */
  name?: string;
  /** The broker URL every case connects to. */
  url: string;
  connectOptions?: ConnectOptions;
  brokerControl?: BrokerControl;
  /** L1's message count (default 100,000, as the catalogue says). */
  loadCount?: number;
  /** Multiplies every wait and deadline; raise it for slow brokers (default 1). */
  timeScale?: number;
  /** Run only these case ids. */
  only?: readonly string[];
  /** Cases run at once (default 1: timing cases are most honest alone). */
  concurrency?: number;
  /** Folder of the adapter package, for child processes (AL2); found by module resolution when absent. */
  driverPackageDir?: string;
  /** A client that is not Switchboard on the same broker, for the IX (wire interop) cases. */
  foreign?: ForeignSide;
}

/** What a case gets to work with. Everything opened through it is closed after the case. */
export interface CaseContext {
  readonly url: string;
  readonly options: SuiteOptions;
  readonly connection: Connection;
  readonly capabilities: Capabilities;
  readonly signal: AbortSignal;
  /** Scales a duration by `timeScale`. */
  t(ms: number): number;
  /** A fresh queue / topic / name for this case. */
  queue(label?: string): Destination;
  topic(label?: string): Destination;
  name(label?: string): string;
  producer(): Producer;
  consumer(source: Destination, options?: ConsumerOptions): Promise<Consumer>;
  /** A separate connection, closed after the case. */
  connect(url?: string, options?: ConnectOptions): Promise<Connection>;
  /** Runs after the case, pass or fail. */
  defer(cleanup: () => Promise<unknown> | unknown): void;
  /** Adds a line to the result's detail. */
  note(text: string): void;
}

export interface ConformanceCase {
  id: string;
  title: string;
  /** Capabilities the case needs; the first one that is `none` makes it unsupported with that reason. */
  requires: readonly CapabilityName[];
  /** Extra gate: a reason string when the case cannot apply to this URL or run. */
  applicable?: (url: string, options: SuiteOptions, capabilities: Capabilities) => string | undefined;
  /** Default 60 s (scaled). */
  timeoutMs?: number;
  run(ctx: CaseContext): Promise<void>;
}
