// The seam between the two engines. Compose (lib/compose/engine.ts) and Swarm
// (lib/swarm/engine.ts) each implement Engine once; cli.ts picks one from CALMSWAP_ENGINE and
// every script reaches it as ctx.engine, so no script and no shared module asks which runs.
import type { Check } from './checks.ts'
import type { Ctx } from './context.ts'

export interface DeployRequest {
  /** deploy --release: this label instead of CALMSWAP_RELEASE or the git hash. */
  readonly release?: string
  /** deploy --rerun-jobs: run an interrupted release job again. */
  readonly rerunJobs?: boolean
}

export interface RecoverReport {
  readonly action: string
  readonly changes: readonly string[]
}

export interface Engine {
  readonly name: 'compose' | 'swarm'
  /** What its deploy runs, in order, and what it calls each of them. */
  readonly steps: readonly string[]
  readonly stepWord: 'step' | 'stage'
  /** The file that journals its operations, which a run cut short continues from. */
  storeFile(stateDir: string): string
  /** Why it does not run this script (one of the other engine's steps), or null when it does. */
  refuses(script: string): string | null
  deploy(ctx: Ctx, o: DeployRequest): Promise<unknown>
  rollback(ctx: Ctx): Promise<unknown>
  cleanup(ctx: Ctx, o: { readonly yes?: boolean }): Promise<unknown>
  /** The status report: one JSON document, or the text for a terminal. */
  status(ctx: Ctx, json: boolean): Promise<string>
  doctor(ctx: Ctx): Promise<Check[]>
  recover(ctx: Ctx): Promise<RecoverReport>
}
