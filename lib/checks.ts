// What doctor reports, in either engine: one check per line with the fix for each problem,
// and the checks of the state folder and the lock that both engines share.
import { existsSync } from 'node:fs'
import type { Check } from './context.ts'
import { fsProblem } from './errors.ts'
import { probeWritable } from './files.ts'
import { lockHeld, readLock } from './lock.ts'
import { sanitize } from './ui.ts'

export type { Check }

/** One line of the report; a passing check carries no fix. */
export const check = (name: string, ok: boolean, detail: string, fix?: string): Check => ({ name, ok, detail, fix: ok ? undefined : fix })

export function formatChecks(checks: readonly Check[], c: { green: (s: string) => string; red: (s: string) => string; yellow: (s: string) => string }): string {
  return (
    checks
      // A detail may quote what nginx -t or the daemon printed.
      .map(
        (k) =>
          `${k.ok ? c.green('✓') : c.red('✗')} ${k.name.padEnd(22)} ${sanitize(k.detail)
            .split('\n')
            .join(`\n${' '.repeat(25)}`)}${k.fix ? `\n  ${c.yellow('fix:')} ${sanitize(k.fix)}` : ''}`,
      )
      .join('\n')
  )
}

/**
 * The state folder would take a write (proved without leaving one: doctor only reads), and
 * who holds the lock. `ops` names the operations that take a dead holder's lock over.
 */
export function stateChecks(stateDir: string, ops: string): Check[] {
  const note = readLock(stateDir)
  const held = lockHeld(stateDir)
  return [
    stateFolderCheck(stateDir),
    check(
      'lock',
      !note || held,
      note ? `${note.op} by pid ${note.pid} (${note.who}) since ${note.since}${held ? ', running' : ', holder gone'}` : held ? 'held' : 'free',
      `the holder died; the next ${ops} takes the lock over by itself`,
    ),
  ]
}

function stateFolderCheck(stateDir: string): Check {
  try {
    if (existsSync(stateDir)) probeWritable(stateDir, 4096, false)
    return check('state folder', true, existsSync(stateDir) ? stateDir : `${stateDir} (created by the first deploy)`)
  } catch (e) {
    return check('state folder', false, `${stateDir} cannot be written: ${fsProblem(e)}`, `make ${stateDir} writable, or set CALMSWAP_STATE_DIR`)
  }
}
