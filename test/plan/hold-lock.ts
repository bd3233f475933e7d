// Holds a state folder's lock from another process, as a second calmswap would: within one
// process the lock is re-entrant, so a test of "refused" needs a real second holder.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const LOCK = fileURLToPath(new URL('../../lib/lock.ts', import.meta.url))

export async function holdLock(stateDir: string, op = 'deploy'): Promise<{ pid: number; release(): void }> {
  const code = `const { acquireLock } = await import(${JSON.stringify(LOCK)}); await acquireLock(${JSON.stringify(stateDir)}, ${JSON.stringify(op)}); console.log('held'); setInterval(() => {}, 1000)`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve())
    child.on('exit', (c) => reject(new Error(`lock holder exited with ${c}`)))
  })
  return { pid: child.pid!, release: () => child.kill('SIGKILL') }
}
