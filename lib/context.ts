// What every step receives: config, the executor, output, state, and the abort signal.
import type { Config } from './config.ts'
import { inventory as inventoryCmd } from './compose.ts'
import { must, type Executor } from './exec.ts'
import { Interrupted } from './errors.ts'
import { Inventory, parseInventory } from './inventory.ts'
import { StateStore } from './state.ts'
import { Ui } from './ui.ts'

export interface Ctx {
  readonly config: Config
  readonly exec: Executor
  readonly ui: Ui
  readonly state: StateStore
  readonly signal: AbortSignal
  /** One `docker ps` serves every step until something changes the host. */
  inventory(fresh?: boolean): Promise<Inventory>
  /** Throws Interrupted once Ctrl-C or SIGTERM arrived: steps call it between changes. */
  checkpoint(): void
}

export interface CtxParts {
  config: Config
  exec: Executor
  ui?: Ui
  state?: StateStore
  signal?: AbortSignal
}

export function makeContext(p: CtxParts): Ctx {
  const ui = p.ui ?? new Ui()
  const signal = p.signal ?? new AbortController().signal
  let cached: Inventory | null = null
  p.exec.onRun = (cmd, planned, via) => {
    if (cmd.mutates) cached = null
    ui.command(cmd, planned, via)
  }
  return {
    config: p.config,
    exec: p.exec,
    ui,
    state: p.state ?? new StateStore(p.config.stateDir, p.exec.dryRun),
    signal,
    async inventory(fresh = false) {
      if (fresh) cached = null
      cached ??= new Inventory(p.config, parseInventory(await must(p.exec, inventoryCmd(p.config))))
      return cached
    },
    checkpoint() {
      if (signal.aborted) throw new Interrupted(String(signal.reason ?? 'signal'))
    },
  }
}
