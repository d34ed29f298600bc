/** A binary min-heap of non-negative numbers in a growable Float64Array (no per-entry objects). */
export class NumberHeap {
  private data: Float64Array;
  private n = 0;

  constructor(capacity = 64) {
    this.data = new Float64Array(Math.max(16, capacity));
  }

  clear(): void {
    this.n = 0;
  }

  get size(): number {
    return this.n;
  }

  push(value: number): void {
    if (this.n === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    const d = this.data;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (d[parent]! <= value) break;
      d[i] = d[parent]!;
      i = parent;
    }
    d[i] = value;
  }

  /** Removes and returns the smallest value; the heap must not be empty. */
  pop(): number {
    const d = this.data;
    const top = d[0]!;
    const last = d[--this.n]!;
    let i = 0;
    const n = this.n;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && d[child + 1]! < d[child]!) child++;
      if (d[child]! >= last) break;
      d[i] = d[child]!;
      i = child;
    }
    d[i] = last;
    return top;
  }
}
