/** Bad flags or arguments: exit 2, nothing touched. */
export class UsageError extends Error {
  name = 'UsageError'
}

/** A step could not do its job: exit 1. */
export class StepError extends Error {
  name = 'StepError'
}

/** Ctrl-C or SIGTERM arrived; the operation lands in a safe state before exiting. */
export class Interrupted extends Error {
  name = 'Interrupted'
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`)
  }
}
