import { SwitchboardError, type Connection, type Destination } from '@switchboard/core';

/** What an example made on the broker: destinations, and the groups it joined on its topics. */
export interface Made {
  readonly destinations: readonly Destination[];
  readonly groups?: readonly { readonly topic: Destination; readonly group: string }[];
}

/**
 * Deletes everything an example made: each topic group first (`admin.deleteGroup`: the group's
 * queue, offsets and retry objects), then every destination (`admin.deleteDestination`, which also
 * removes what any other group left). Close the consumers first.
 *
 * A driver that has no `deleteGroup` answers `unsupported`; that is not an error here, because the
 * `deleteDestination` of the topic that follows removes the destination with every per-group
 * object Switchboard made for it.
 */
export async function cleanUp(conn: Connection, made: Made): Promise<void> {
  for (const { topic, group } of made.groups ?? []) {
    try {
      await conn.admin.deleteGroup(topic, group);
    } catch (err) {
      if (!(err instanceof SwitchboardError && err.code === 'unsupported')) throw err;
      // Falls back to the deleteDestination(topic) below.
    }
  }
  for (const d of made.destinations) await conn.admin.deleteDestination(d);
}
