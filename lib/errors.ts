// Every error calmswap raises on purpose, each with its one exit code:
// 2 when nothing was touched because the request itself was wrong, 1 when a step failed.

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

/** Base of every error below: `exitCode` is what the process exits with. */
export class CalmswapError extends Error {
  readonly exitCode: number = EXIT.failed
}

/** Bad flags or arguments, or an operation that cannot start in this state: exit 2, nothing touched. */
export class UsageError extends CalmswapError {
  override name = 'UsageError'
  override readonly exitCode = EXIT.usage
}

/** Every problem of the settings or the compose file, reported together: exit 2, nothing touched. */
export class ConfigError extends CalmswapError {
  override name = 'ConfigError'
  override readonly exitCode = EXIT.usage
  constructor(readonly problems: readonly string[]) {
    super(`${problems.length} config problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
  }
}

/** A step could not do its job: exit 1. */
export class StepError extends CalmswapError {
  override name = 'StepError'
}

/** The state folder cannot be read or written, or holds something calmswap did not write: exit 1. */
export class StateError extends CalmswapError {
  override name = 'StateError'
}

/** Another operation holds the lock: exit 1 (nothing wrong with the request, try again later). */
export class LockedError extends CalmswapError {
  override name = 'LockedError'
}

/** Ctrl-C, SIGTERM or SIGHUP arrived; the operation lands in a safe state before exiting 1. */
export class Interrupted extends CalmswapError {
  override name = 'Interrupted'
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`)
  }
}

/** A command that had to succeed did not: exit 1. */
export class CommandError extends CalmswapError {
  override name = 'CommandError'
  constructor(
    readonly rendered: string,
    readonly code: number,
    readonly stderr: string,
    stdout = '',
  ) {
    const tail = (stderr || stdout).trim().split('\n').slice(-8).join('\n')
    super(`command failed (exit ${code}): ${rendered}${tail ? `\n${tail}` : ''}`)
  }
}

export const exitCodeOf = (e: unknown): number => (e instanceof CalmswapError ? e.exitCode : EXIT.failed)

/** The few errno values a person can act on, in words; anything else keeps its own message. */
export function fsProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk is full'
  if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') return 'it is not writable'
  if (code === 'ELOOP') return 'a symbolic link stands where calmswap writes its own file'
  if (code === 'EEXIST') return 'a file calmswap did not write stands in the way'
  return (e as Error).message
}

/** The state folder failed a write: the one message every writer gives. */
export const unwritable = (dir: string, e: unknown) =>
  new StateError(`state folder ${dir} cannot be written: ${fsProblem(e)}. Nothing was changed. Fix it or set CALMSWAP_STATE_DIR.`)
