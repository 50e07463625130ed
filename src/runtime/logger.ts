/**
 * Structured logs: one JSON object per line on stderr, with time, level, node id and event name, so that
 * `chorus dev` can interleave several nodes and `jq` can take them apart. Levels below the threshold cost a
 * comparison and nothing else.
 */
import type { LogLevel } from '../core/node/effect.ts'

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void
  child(fields: LogFields): Logger
}

export class JsonLogger implements Logger {
  constructor(
    private readonly threshold: LogLevel = 'info',
    private readonly base: LogFields = {},
    private readonly write: (line: string) => void = (line) => process.stderr.write(line),
  ) {}

  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    if (rank[level] < rank[this.threshold]) return
    const record = { time: new Date().toISOString(), level, ...this.base, event, ...fields }
    this.write(`${JSON.stringify(record)}\n`)
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.threshold, { ...this.base, ...fields }, this.write)
  }
}

/** For tests and benchmarks that want silence. */
export const silentLogger: Logger = {
  log() {},
  child() {
    return silentLogger
  },
}
