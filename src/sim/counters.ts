/**
 * Named event counts. The simulator counts everything it does to the system under test (every drop, every
 * duplicate, every refusal) so that a test can prove a fault actually happened, rather than pass because the
 * fault it meant to inject never fired. Keys are a closed union so a typo does not create a new counter.
 */

export class Counters<K extends string> {
  private readonly values: Record<K, number>

  constructor(keys: readonly K[]) {
    this.values = {} as Record<K, number>
    for (const key of keys) this.values[key] = 0
  }

  add(key: K, amount = 1): void {
    this.values[key] += amount
  }

  get(key: K): number {
    return this.values[key]
  }

  snapshot(): Readonly<Record<K, number>> {
    return { ...this.values }
  }

  /** "name=value" pairs in key order, zeros omitted, for trace summaries. */
  format(): string {
    return (Object.keys(this.values) as K[])
      .filter((key) => this.values[key] !== 0)
      .map((key) => `${key}=${this.values[key]}`)
      .join(' ')
  }
}
