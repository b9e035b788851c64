import type { Destination, Headers } from '@switchboard/core';

/** A message as a client that is not Switchboard sees it or sends it. */
export interface ForeignMessage {
  readonly body: Uint8Array;
  readonly key?: string | undefined;
  readonly headers: Headers;
  /** The broker's native message id field, where it has one. */
  readonly id?: string | undefined;
}

/**
 * The other side of the IX (wire interop) cases: a backend's own raw client library (kafkajs,
 * amqplib, the AWS SDK, nats.js), never Switchboard, working on the broker objects Switchboard uses
 * for a destination, in the wire format the adapter's README documents. Integration tests give one
 * per backend (`SuiteOptions.foreign`); where none is given the IX cases are unsupported.
 */
export interface ForeignClient {
  /** Publishes to the broker object Switchboard reads `dest` from (a queue, a topic's exchange or subject), confirmed. */
  publish(dest: Destination, message: { body: Uint8Array; key?: string; headers?: Headers; id?: string }): Promise<void>;
  /**
   * Reads `n` messages that Switchboard sent to `dest`, as a fresh reader that starts before
   * `start()` resolves: call it, then have Switchboard send, then await `messages`.
   */
  receive(dest: Destination, n: number, timeoutMs: number): Promise<{ ready: Promise<void>; messages: Promise<ForeignMessage[]> }>;
  /**
   * Publishes one message carrying the broker's typed header values (decimals, bytes, void, numbers,
   * booleans, timestamps, nested tables: whatever the protocol allows), confirmed; resolves with how
   * each must arrive at a Switchboard consumer, as the adapter documents. Absent: the protocol's
   * headers are strings only.
   */
  publishTyped?(dest: Destination): Promise<{ expected: Headers }>;
  /** Answers requests arriving on `dest` with the broker's native reply convention (needed when `nativeRequestReply`). */
  respond?(dest: Destination, answer: (request: ForeignMessage) => string): Promise<{ close(): Promise<void> }>;
  /** Sends a request to `dest` with the broker's native convention and returns the reply. */
  request?(dest: Destination, body: string, timeoutMs: number): Promise<ForeignMessage>;
  /** Names of every broker object (queues, topics, streams, consumer groups, ...) there is now. */
  listObjects(): Promise<string[]>;
  close(): Promise<void>;
}

/** What a backend's foreign side can do, known before any connection (the IX cases gate on it). */
export interface ForeignSide {
  /** Opens the raw client on the broker of `url`. */
  open(url: string): Promise<ForeignClient>;
  /** `publishTyped` exists, or why the protocol has no typed headers. */
  readonly typedHeaders: true | { readonly reason: string };
  /**
   * `respond` and `request` exist: they follow the broker's own reply convention (AMQP reply_to,
   * NATS reply subjects) or, where the broker has none (Kafka, SQS), the one the adapter's README
   * documents, so a client with only that README can take part. Else why not.
   */
  readonly nativeRequestReply: true | { readonly reason: string };
  /**
   * A foreign message without an id keeps the id Switchboard gives it across redeliveries and in
   * every group of a topic, or why not (Switchboard's ids stay unique either way).
   */
  readonly stableIds: true | { readonly reason: string };
}
