/**
 * A child process that a harness fully controls: started in its own process group (so Ctrl-C in the terminal
 * reaches only the harness, which then decides what each child gets), output kept in a bounded ring for
 * diagnostics, signals for the fault scenarios (SIGKILL, SIGSTOP, SIGCONT) and a registered cleanup that
 * SIGKILLs it (resuming it first, so a paused process cannot linger) whatever way the harness ends.
 *
 *   spawn ──► running ──SIGSTOP──► paused ──SIGCONT──► running
 *                │                    │
 *                └──SIGKILL / exit────┴──► exited (the cleanup is dropped)
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { registerCleanup } from './cleanup-registry.ts'

export interface ManagedProcessOptions {
  /** Shown in errors and diagnostics. */
  readonly label: string
  readonly command: string
  readonly args: readonly string[]
  readonly env?: NodeJS.ProcessEnv
  /** Called with each line of stdout and stderr, with the time it arrived (epoch ms). */
  readonly onLine?: (line: string, atMs: number) => void
  /** Lines kept for diagnostics. Bounded so a chatty child cannot grow the harness without limit. */
  readonly keepLines?: number
}

export type ProcessState = 'running' | 'paused' | 'exited'

const DEFAULT_KEEP_LINES = 200

export class ManagedProcess {
  private readonly child: ChildProcess
  private readonly recent: string[] = []
  private stateValue: ProcessState = 'running'
  private readonly dropCleanup: () => void
  /** Resolves with the exit code or signal once the child has exited. */
  readonly exited: Promise<string>

  constructor(private readonly options: ManagedProcessOptions) {
    this.child = spawn(options.command, [...options.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: options.env ?? process.env,
    })
    const pid = this.child.pid
    this.dropCleanup = registerCleanup(`process ${options.label}`, () => killGroup(pid))
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.stateValue = 'exited'
        resolve(signal ?? String(code))
      })
      // A spawn failure (ENOENT) arrives as 'error' with no 'exit'.
      this.child.once('error', (error) => {
        this.stateValue = 'exited'
        resolve(`spawn error: ${error.message}`)
      })
    })
    void this.exited.then(() => this.dropCleanup())
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on('line', (line) => this.onLine(line))
    }
  }

  get label(): string {
    return this.options.label
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  get state(): ProcessState {
    return this.stateValue
  }

  /** The last lines of output, oldest first. */
  recentOutput(): readonly string[] {
    return this.recent
  }

  /** SIGKILL and wait for the exit; a paused process dies too (SIGKILL needs no CONT). */
  async kill(): Promise<void> {
    if (this.stateValue === 'exited') return
    this.signal('SIGKILL')
    await this.exited
  }

  /** SIGTERM (the graceful path) and wait, escalating to SIGKILL after `graceMs`. */
  async terminate(graceMs: number): Promise<void> {
    if (this.stateValue === 'exited') return
    if (this.stateValue === 'paused') this.resume()
    this.signal('SIGTERM')
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
  }

  pause(): void {
    if (this.stateValue !== 'running') return
    this.signal('SIGSTOP')
    this.stateValue = 'paused'
  }

  resume(): void {
    if (this.stateValue !== 'paused') return
    this.signal('SIGCONT')
    this.stateValue = 'running'
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      if (this.child.pid !== undefined) process.kill(this.child.pid, signal)
    } catch {
      // ESRCH: it exited between our check and the signal; the exit handler records that.
    }
  }

  private onLine(line: string): void {
    this.recent.push(line)
    if (this.recent.length > (this.options.keepLines ?? DEFAULT_KEEP_LINES)) this.recent.shift()
    this.options.onLine?.(line, Date.now())
  }
}

/** The cleanup path: the whole process group, so anything the child started goes too. Synchronous. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
    try {
      process.kill(-pid, signal)
    } catch {
      // The group is already gone.
    }
  }
}
