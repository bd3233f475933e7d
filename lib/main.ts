// What runs before anything else in a script: the Node.js check, then the step itself,
// imported only once the check passed. This module imports nothing that an old Node
// cannot load, so a too-old Node gets one line saying what to install, not a stack trace
// from deep inside a dependency.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The oldest Node.js the built scripts run on: Debian 12's and Raspberry Pi OS's nodejs
 * (18.19 at release), so a stock box needs no other Node. The runtime imports no undici
 * (health probes and the Engine API go through node:http), whose 7 needs 20.18.1; Node 20
 * APIs are left out or have a fallback (lib/deadlines.ts anySignal), and the build targets
 * node18.
 */
export const NODE_MIN = [18, 19, 0] as const

/** The one line a too-old Node gets, or null when this one will do. */
export function nodeProblem(version: string): string | null {
  const have = version
    .replace(/^v/, '')
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0)
  for (let i = 0; i < NODE_MIN.length; i++) {
    if ((have[i] ?? 0) > NODE_MIN[i]!) return null
    if ((have[i] ?? 0) < NODE_MIN[i]!) {
      return `calmswap needs Node.js ${NODE_MIN.join('.')} or newer, this is ${version}: sudo apt install nodejs npm (Debian 12 / Raspberry Pi OS), or nodejs.org, and run again`
    }
  }
  return null
}

/**
 * True when this module is the script being run: its file is the one node was started
 * with (through any symlink, as node_modules/.bin's). Each built script is an entry file
 * of its own, so this holds in dist/ as it does from source, and a renamed copy still runs.
 */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1]
  if (!entry) return false
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(entry)
  } catch {
    return false
  }
}

/**
 * A script's whole body: when it is the one being run, check Node, then load the step and
 * run it. A Node too old for calmswap exits 2 (a config error: nothing was touched).
 */
export function startMain(moduleUrl: string, load: () => Promise<unknown>): void {
  if (!isMain(moduleUrl)) return
  const problem = nodeProblem(process.versions.node)
  if (problem) {
    process.stderr.write(`${problem}\n`)
    process.exitCode = 2
    return
  }
  load().catch((e: unknown) => {
    process.stderr.write(`${(e as Error)?.stack ?? e}\n`)
    process.exitCode = 1
  })
}
