/**
 * CPU time a set of processes has used, from /proc/PID/stat (Linux only). A benchmark on a shared, busy machine
 * cannot trust requests per second alone: when other jobs take the cores every system looks slower. CPU time
 * per request is what the server itself spent, whoever else was running, so it travels better between runs.
 * Resolution is one clock tick (10 ms at the usual 100 Hz), fine over phases of seconds.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

/** User plus system CPU seconds of the given processes (all their threads); a process that has gone counts as zero. */
export function cpuSeconds(pids: readonly (number | undefined)[]): number {
  return sumTicks(pids, (pid) => `/proc/${pid}/stat`)
}

/**
 * CPU seconds of the given processes' main threads only (the JavaScript event loop). The rest of a Node process's
 * time is libuv's thread pool (LevelDB, fsync), V8's garbage-collector and compiler threads: the difference tells
 * whether a cost is in the JavaScript a request runs or in the work it hands off.
 */
export function mainThreadCpuSeconds(pids: readonly (number | undefined)[]): number {
  return sumTicks(pids, (pid) => `/proc/${pid}/task/${pid}/stat`)
}

function sumTicks(pids: readonly (number | undefined)[], statPath: (pid: number) => string): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  let ticks = 0
  for (const pid of pids) {
    if (pid === undefined) continue
    try {
      const stat = readFileSync(statPath(pid), 'utf8')
      // The command name (field 2) may contain spaces and parentheses; the fields after its last ')' do not.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      // Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 here, counting from field 3 as 1.
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // Exited: its time is no longer ours to count.
    }
  }
  return ticks / ticksPerSecond
}
