/**
 * CPU-burning processes for the "busy machine" scenario: each spins in a loop that ends by itself after
 * `durationMs` (bounded in time even if the harness dies and its cleanup never runs), and the harness also
 * registers each for SIGKILL on exit.
 */
import { ManagedProcess } from './managed-process.ts'

/** Starts `count` busy loops of `durationMs` and resolves when all have ended. */
export async function burnCpu(count: number, durationMs: number): Promise<void> {
  const source = `const end = Date.now() + ${Math.max(0, Math.floor(durationMs))}; let x = 0; while (Date.now() < end) x = (x * 31 + 7) % 1000003`
  const hogs = Array.from({ length: count }, (_, index) =>
    new ManagedProcess({ label: `cpu-hog-${index + 1}`, command: process.execPath, args: ['-e', source] }),
  )
  await Promise.all(hogs.map((hog) => hog.exited))
}
