import type { Duplex } from 'node:stream';

/**
 * amqplib hands each frame to the socket as a write of its own (a publish is one, an ack another),
 * and on loopback or a fast link each such write is a system call and a TCP segment. This corks the
 * connection's socket at the first write of a turn of the event loop and uncorks it once that turn's
 * synchronous work is done (`process.nextTick`), so the frames written in one turn leave together in
 * one `writev`. Order is unchanged, nothing waits longer than the current turn, and back-pressure is
 * as before: `write` still returns false past the socket's high-water mark.
 *
 * Does nothing when `stream` cannot cork (it always can: amqplib's stream is a `net.Socket` or a
 * `tls.TLSSocket`).
 */
export function coalesceWrites(stream: Duplex | undefined): void {
  if (!stream || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') return;
  const write = stream.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function (this: Duplex, ...args: Parameters<Duplex['write']>): boolean {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Duplex['write'];
}
