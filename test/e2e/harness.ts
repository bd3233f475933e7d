// End-to-end harness: one throwaway calmswap stack per test file, created before its tests
// and torn down after them (test/e2e/stack.ts holds the stack itself, usable outside vitest).
import { afterAll, beforeAll } from 'vitest'
import { Stack, type StackOptions } from './stack.ts'

export * from './stack.ts'

/**
 * The stack of one test file: created before its tests (then `ready`, then bootstrapped:
 * blue live, unless `bootstrap: false`) and torn down after them, even when a step failed.
 */
export function useStack(testFile: string, got: (s: Stack) => void, o: { bootstrap?: boolean; ready?: (s: Stack) => void | Promise<void>; stack?: StackOptions } = {}): void {
  let stack: Stack | undefined
  beforeAll(async () => {
    stack = await Stack.create(testFile, o.stack)
    got(stack)
    await o.ready?.(stack)
    if (o.bootstrap ?? true) await stack.bootstrap()
  })
  afterAll(async () => {
    await stack?.teardown()
  })
}
