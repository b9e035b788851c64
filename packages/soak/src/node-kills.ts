import { setTimeout as delay } from 'node:timers/promises';

/** What a node-kill disruption acts on: the nodes of a cluster, a way to crash one and to start it again. */
export interface NodeControl {
  readonly nodes: readonly string[];
  /** Crashes `node`; resolves once it is gone. */
  kill(node: string): Promise<void>;
  /** Starts `node` again; resolves once it serves and has rejoined. */
  start(node: string): Promise<void>;
}

/**
 * A soak disruption (`restartCommand` as a function) that crashes the nodes in turn: each call kills
 * the next of `control.nodes`, leaves it down `downForMs`, and starts it again. The node is started
 * even when `signal` ends the wait early, so an interrupted run leaves the cluster whole.
 */
export function rotatingNodeKills(control: NodeControl, downForMs: number, signal?: AbortSignal): () => Promise<void> {
  let turn = 0;
  return async () => {
    const node = control.nodes[turn++ % control.nodes.length]!;
    await control.kill(node);
    await delay(downForMs, undefined, signal ? { signal } : {}).catch(() => undefined);
    await control.start(node);
  };
}
