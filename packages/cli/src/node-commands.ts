import type { ClusterControl } from '@switchboard/conformance';
import type { FlagSpec } from './flags';
import { UsageError } from './output';

/**
 * Shell commands that crash and start one node of a cluster: `{node}` in each is replaced by a
 * node's name from `nodes`. `switchboard conformance` gives them to F6; `switchboard soak` kills a
 * node at each interval instead of restarting the broker.
 */
export interface NodeCommands {
  /** E.g. `./scripts/brokers cluster kill nats {node}`; returns once the node is gone. */
  readonly kill: string;
  /** E.g. `./scripts/brokers cluster start nats {node}`; returns once the node serves and rejoined. */
  readonly start: string;
  readonly nodes: readonly string[];
}

export const DEFAULT_NODES = '1,2,3';

/** The flags both commands share (their help). */
export const NODE_FLAGS: Record<'kill-command' | 'start-command' | 'nodes', FlagSpec> = {
  'kill-command': { type: 'string', value: 'CMD', help: "A shell command (run with bash -c) that crashes one node of a cluster; {node} stands for the node, e.g. './scripts/brokers cluster kill nats {node}'. Needs --start-command." },
  'start-command': { type: 'string', value: 'CMD', help: "A shell command that starts a killed node again and returns once it serves and has rejoined; {node} as in --kill-command, e.g. './scripts/brokers cluster start nats {node}'. Needs --kill-command." },
  nodes: { type: 'string', value: 'N,N...', help: `The nodes {node} takes, in order (default ${DEFAULT_NODES}); needs --kill-command.` },
};

const NODE_NAME = /^[A-Za-z0-9_.@-]+$/;

/**
 * Reads --kill-command, --start-command and --nodes; undefined when none is given. Throws
 * {@link UsageError} when only one command is given, a command lacks `{node}`, or a node name has
 * anything but letters, digits and `_ . @ -` (a name goes into a shell command unquoted).
 */
export function parseNodeCommands(values: { kill?: string | undefined; start?: string | undefined; nodes?: string | undefined }): NodeCommands | undefined {
  const { kill, start } = values;
  if (kill === undefined && start === undefined) {
    if (values.nodes !== undefined) throw new UsageError('--nodes needs --kill-command and --start-command');
    return undefined;
  }
  if (kill === undefined || start === undefined) throw new UsageError('--kill-command and --start-command go together');
  for (const [flag, cmd] of [['--kill-command', kill], ['--start-command', start]] as const) {
    if (!cmd.includes('{node}')) throw new UsageError(`${flag} needs {node} where the node goes, got "${cmd}"`);
  }
  const nodes = (values.nodes ?? DEFAULT_NODES).split(',').map((s) => s.trim());
  const bad = nodes.find((n) => !NODE_NAME.test(n));
  if (bad !== undefined) throw new UsageError(`--nodes: "${bad}" is not a node name (letters, digits, _ . @ -; comma-separated)`);
  return { kill, start, nodes };
}

/** The command for one node. */
export const forNode = (template: string, node: string): string => template.split('{node}').join(node);

/** Cluster control from the commands, for F6 and the soak's node kills: no leader lookup, so F6 crashes the first node. */
export function clusterControlOf(c: NodeCommands, run: (command: string) => Promise<void>): ClusterControl {
  return {
    nodes: c.nodes,
    kill: (node) => run(forNode(c.kill, node)),
    start: (node) => run(forNode(c.start, node)),
  };
}
