/**
 * Runs async jobs one at a time, in the order they were given; a failed job does not stop the
 * ones after it. For kafkajs admin calls that must not overlap (see {@link KafkaClient.offsetLookups}).
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const p = this.tail.then(job, job);
    this.tail = p.catch(() => undefined);
    return p;
  }
}
