/**
 * What {@link OpenList} needs of an item: its deadline and its links. An item is on at most one
 * list at a time, which `on` names.
 */
export interface Listed<T extends Listed<T>> {
  /** When its deadline passes (`performance.now()` ms); Infinity without one. */
  due: number;
  prev: T | undefined;
  next: T | undefined;
  on: OpenList<T> | undefined;
}

/**
 * The unsettled deliveries of one consumer: a doubly linked list through their {@link Listed}
 * records, so adding and removing cost O(1) and allocate nothing. With emulated ack deadlines it
 * is kept in deadline order (a new delivery's deadline is the latest, so it goes to the tail).
 */
export class OpenList<T extends Listed<T>> {
  head: T | undefined;
  tail: T | undefined;
  size = 0;

  /** Inserts `t` in `due` order, searching from the tail (where a fresh deadline belongs). */
  add(t: T): void {
    if (t.on) return;
    let after = this.tail;
    while (after && after.due > t.due) after = after.prev;
    t.prev = after;
    t.next = after ? after.next : this.head;
    if (t.next) t.next.prev = t;
    else this.tail = t;
    if (after) after.next = t;
    else this.head = t;
    t.on = this;
    this.size++;
  }

  remove(t: T): void {
    if (t.on !== this) return;
    if (t.prev) t.prev.next = t.next;
    else this.head = t.next;
    if (t.next) t.next.prev = t.prev;
    else this.tail = t.prev;
    t.prev = t.next = undefined;
    t.on = undefined;
    this.size--;
  }

  /** Moves `t`, if on this list, to where deadline `due` belongs. */
  reorder(t: T, due: number): void {
    if (t.on !== this) return;
    this.remove(t);
    t.due = due;
    this.add(t);
  }

  /** Empties the list, returning what it held in order. */
  drain(): T[] {
    const out: T[] = [];
    for (let t = this.head; t; ) {
      const next = t.next;
      t.prev = t.next = undefined;
      t.on = undefined;
      out.push(t);
      t = next;
    }
    this.head = this.tail = undefined;
    this.size = 0;
    return out;
  }
}

/**
 * Emulated ack deadlines of one consumer with a single timer: it is set for the earliest deadline
 * on the (deadline-ordered) open list, and when it fires every delivery whose deadline passed
 * expires. Settling a delivery only unlinks it; the timer is not touched per delivery.
 */
export class DeadlineTimer<T extends Listed<T>> {
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (`performance.now()` ms). */
  private at = Infinity;

  constructor(
    private readonly open: OpenList<T>,
    private readonly owner: { expire(t: T): void },
  ) {}

  /** `t` was (re)listed with a new deadline: fire no later than it. */
  watch(t: T): void {
    if (t.due < this.at) this.arm(t.due);
  }

  /** Restarts the deadline of `t` at `ms` from now. */
  restart(t: T, ms: number): void {
    this.open.reorder(t, performance.now() + ms);
    this.watch(t);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.at = Infinity;
  }

  private arm(due: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.at = due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - performance.now()));
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    this.at = Infinity;
    const now = performance.now();
    for (let t = this.open.head; t && t.due <= now; t = this.open.head) {
      this.open.remove(t);
      this.owner.expire(t);
    }
    if (this.open.head && this.open.head.due !== Infinity) this.arm(this.open.head.due);
  }
}
