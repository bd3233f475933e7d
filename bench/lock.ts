// One Docker daemon serves the e2e suite and this benchmark: measuring while another
// stack runs would measure the other stack. Every bench run therefore holds
// /tmp/calmswap-docker.lock (flock). When an ancestor (`flock ... make bench`, a wrapped
// vitest run) already holds it, taking it again would wait forever, so we only check.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync } from 'node:fs'

export const DOCKER_LOCK = '/tmp/calmswap-docker.lock'

function ancestors(pid: number): Set<number> {
  const seen = new Set<number>()
  let p = pid
  while (p > 1 && !seen.has(p)) {
    seen.add(p)
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so parse after the last ')'.
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    } catch {
      break
    }
  }
  return seen
}

/** Pids holding a flock on the lock file, from /proc/locks (matched by inode). */
export function lockHolders(path = DOCKER_LOCK): number[] {
  let ino: number
  try {
    ino = statSync(path).ino
  } catch {
    return []
  }
  const holders: number[] = []
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/)
    // "1: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> 0 EOF"
    if (f[1] === 'FLOCK' && Number(f[5]?.split(':').at(-1)) === ino) holders.push(Number(f[4]))
  }
  return holders
}

export function heldByAncestor(path = DOCKER_LOCK): boolean {
  const mine = ancestors(process.pid)
  return lockHolders(path).some((pid) => mine.has(pid))
}

/**
 * Makes sure this process runs under the Docker lock. Returns true when it already does
 * (the caller goes on); otherwise re-runs this very command under `flock`, waits for it
 * and exits with its code (the caller never returns from here).
 */
export async function ensureDockerLock(log: (m: string) => void): Promise<true> {
  if (heldByAncestor()) return true
  closeSync(openSync(DOCKER_LOCK, 'a'))
  if (lockHolders().length) log(`waiting for ${DOCKER_LOCK} (another Docker run holds it)…`)
  // flock(1) takes the lock, then runs us again as its child: heldByAncestor() is then true.
  const child = spawn('flock', ['--close', DOCKER_LOCK, process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' })
  const forward = (sig: NodeJS.Signals) => child.kill(sig)
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 128 + 15 : 1))))
  process.exit(code)
}
