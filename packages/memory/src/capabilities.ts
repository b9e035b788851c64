import { defineCapabilities, native, none } from '@switchboard/core/driver';

const inProcess = 'the memory broker lives inside the process';

/** What memory:// does. Everything in one process is native; what needs a second process is not. */
export const memoryCapabilities = defineCapabilities({
  fireAndForget: native(),
  confirm: native('a send is confirmed once the record is in the in-process log'),
  requestResponse: native('reply inboxes keyed by correlation id'),
  fanout: native(),
  competingConsumers: native(),
  headerFilter: native('per-group header equality filter'),
  mailbox: native(),
  prefetch: native(),
  mailboxRequestResponse: native(),
  polling: native(),
  longPolling: native(),
  atMostOnce: native(),
  atLeastOnce: native(),
  crashRedelivery: none(`${inProcess}: a killed consumer process takes the broker and its messages with it`),
  dedup: native('broker-side dedup window on message ids (default 2 minutes)'),
  orderingPerKey: native('a key is held back while an earlier message of that key is in flight'),
  orderingPerKeyAfterNack: native('a nacked message keeps its key held until it is delivered again and settled'),
  orderingTotal: native(),
  replay: native('records are retained up to the retention limits'),
  replayFromPosition: native('by a delivery\'s position (its record offset), by offset or by timestamp'),
  committedPosition: native(),
  ackTimeout: native('an ack deadline per delivery; expiry counts as a failed attempt'),
  extend: native(),
  nackDelay: native(),
  deadLetter: native(),
  reject: native(),
  delayedSend: native(),
  gracefulClose: native(),
  reconnect: none(`${inProcess}: there is no broker process to restart`),
  connectionCut: none(`${inProcess}: there is no network connection to cut`),
  payloadLimit: native('maxMessageBytes, 1 MiB by default'),
  authentication: none('memory:// has no credentials to refuse'),
});
