/**
 * Durability audit: a SIGKILL cannot tell `sync: true` from `sync: false` (the kernel keeps the written pages),
 * so watch the syscalls. The child writes through the commit queue from 64 callers under
 * `strace -f -y -e trace=fdatasync,fsync,write`; its markers (S = batch handed to LevelDB, D = LevelDB returned,
 * A = caller acknowledged) are write(1, ...) calls in the same trace, so the trace orders markers and syncs.
 * Durable: exactly one sync of LevelDB's log inside every batch window, none outside, and every ack after its
 * batch's sync returned. Unsafe: no sync of the log at all. `-y` names the file of each fd; only the log
 * (*.log) counts, since LevelDB also syncs its manifest and table files on its own schedule.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { crashWriterPath, spawnWriter } from './fixtures/child-writer.ts'
import { temporaryDirectory } from './fixtures/stores.ts'

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const straceAvailable = hasStrace()
if (!straceAvailable) {
  console.warn('\n*** SKIPPING the storage durability audit: strace is not installed (Debian package strace). ***\n')
}

type TraceEvent = { kind: 'marker'; text: string } | { kind: 'log-sync-done'; result: string } | { kind: 'log-sync-start' }

/**
 * Syscall lines in trace order. A call split by another thread ("unfinished"/"resumed") completes at "resumed".
 * A marker counts only once written: a write(1) that failed (EAGAIN on a full pipe, retried by the child) ends
 * in "= -1 ..." and is ignored. Markers are one short line each, so a successful write carries the whole line.
 */
function parseTrace(trace: string): TraceEvent[] {
  const events: TraceEvent[] = []
  const pendingLogSync = new Map<string, boolean>()
  for (const line of trace.split('\n')) {
    const pid = line.split(' ', 1)[0] ?? ''
    const marker = /write\(1<[^>]*>, "([^"]*)\\n".*\) = \d+$/.exec(line)
    if (marker !== null) {
      events.push({ kind: 'marker', text: marker[1] ?? '' })
      continue
    }
    const start = /(fdatasync|fsync)\(\d+<([^>]*)>/.exec(line)
    if (start !== null) {
      const isLog = (start[2] ?? '').endsWith('.log')
      if (!isLog) continue
      events.push({ kind: 'log-sync-start' })
      if (line.includes('<unfinished ...>')) pendingLogSync.set(pid, true)
      else events.push({ kind: 'log-sync-done', result: line.slice(line.lastIndexOf('=') + 1).trim() })
      continue
    }
    if (/<\.\.\. (fdatasync|fsync) resumed>/.test(line) && pendingLogSync.get(pid) === true) {
      pendingLogSync.delete(pid)
      events.push({ kind: 'log-sync-done', result: line.slice(line.lastIndexOf('=') + 1).trim() })
    }
  }
  return events
}

async function traceWriter(sync: 'durable' | 'unsafe'): Promise<{ events: TraceEvent[]; stdout: string[] }> {
  const directory = temporaryDirectory('audit')
  const traceFile = join(directory, 'strace.txt')
  try {
    const args = ['-f', '-y', '-s', '96', '-e', 'trace=fdatasync,fsync,write', '-o', traceFile]
    const writer = spawnWriter('strace', [...args, process.execPath, '--import', 'tsx', crashWriterPath, join(directory, 'db'), 'queue', sync, '8'])
    await writer.waitFor((lines) => lines.includes('DONE'), 60_000)
    expect(await writer.exited).toEqual({ code: 0, signal: null })
    return { events: parseTrace(readFileSync(traceFile, 'utf8')), stdout: writer.lines }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

/** Event indexes of each batch's S and D markers and each ack, from the write phase (READY..last D). */
function windows(events: readonly TraceEvent[]) {
  const start = new Map<number, number>()
  const done = new Map<number, number>()
  const acks: { batch: number; at: number }[] = []
  events.forEach((event, at) => {
    if (event.kind !== 'marker') return
    const [tag, first, second] = event.text.split(' ')
    if (tag === 'S') start.set(Number(first), at)
    if (tag === 'D') done.set(Number(first), at)
    if (tag === 'A') acks.push({ batch: Number(second), at })
  })
  return { start, done, acks }
}

describe.skipIf(!straceAvailable)('durability audit under strace', () => {
  it('durable mode: one log sync per batch, inside the batch, before any of its acks', async () => {
    const { events, stdout } = await traceWriter('durable')
    const { start, done, acks } = windows(events)
    expect(acks.length).toBe(64 * 8)
    expect(stdout.filter((line) => line.startsWith('A ')).length).toBe(64 * 8)
    expect(start.size).toBeGreaterThan(1)
    expect(start.size).toBeLessThan(64 * 8) // group commit happened: fewer batches than writes
    const firstStart = Math.min(...start.values())
    const lastDone = Math.max(...done.values())
    let syncsInWindows = 0
    for (const [batch, from] of start) {
      const to = done.get(batch)
      expect(to, `batch ${batch} has a D marker`).toBeDefined()
      const inside = events.slice(from, to)
      expect(inside.filter((e) => e.kind === 'log-sync-start').length, `syncs started in batch ${batch}`).toBe(1)
      expect(inside.filter((e) => e.kind === 'log-sync-done' && e.result === '0').length, `syncs returned in batch ${batch}`).toBe(1)
      syncsInWindows++
    }
    const writePhase = events.slice(firstStart, lastDone + 1)
    expect(writePhase.filter((e) => e.kind === 'log-sync-done').length).toBe(syncsInWindows)
    for (const ack of acks) expect(ack.at, `ack in batch ${ack.batch} after its D`).toBeGreaterThan(done.get(ack.batch) ?? Infinity)
  }, 70_000)

  it('unsafe mode (syncWrites: false): no sync of the log at all', async () => {
    const { events } = await traceWriter('unsafe')
    const { start, done, acks } = windows(events)
    expect(acks.length).toBe(64 * 8)
    const markers = events.filter((e): e is Extract<TraceEvent, { kind: 'marker' }> => e.kind === 'marker' && e.text.startsWith('S '))
    expect(markers.every((e) => e.text.endsWith(' 0'))).toBe(true)
    const writePhase = events.slice(Math.min(...start.values()), Math.max(...done.values()) + 1)
    expect(writePhase.filter((e) => e.kind === 'log-sync-start').length).toBe(0)
  }, 70_000)
})
