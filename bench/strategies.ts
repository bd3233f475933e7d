// The deploy strategies under test. Every one gets the same stack, env, load and backlog;
// they differ only in the command that deploys (and the one that removes the old color).
import type { Color } from '../lib/config.ts'

export interface StrategyCall {
  readonly from: Color
  readonly to: Color
}

export interface Strategy {
  readonly name: string
  readonly summary: string
  /** Env added for this strategy's runs (all of them: setup, deploy, cleanup). */
  readonly env: Readonly<Record<string, string>>
  /** The deploy, as argv, run from the repo root with the strategy env + BENCH_FROM/BENCH_TO. */
  deploy(c: StrategyCall): string[]
  /** Removing the old color after a good deploy (the manual cleanup step), or null. */
  cleanup(c: StrategyCall): string[] | null
  /** Whether it has a rollback path worth measuring with a failing release. */
  readonly failing: boolean
}

const calmswap = (mode: 'stop' | 'pause'): Strategy => ({
  name: `calmswap-${mode}`,
  summary: `calmswap deploy, CALMSWAP_PAUSE_MODE=${mode}; then calmswap cleanup --yes`,
  env: { CALMSWAP_PAUSE_MODE: mode },
  deploy: () => ['node', 'dist/deploy.mjs', '--json'],
  cleanup: () => ['node', 'dist/cleanup.mjs', '--yes', '--json'],
  failing: true,
})

/** `docker compose down` of the old color, as an operator would type it. */
const composeDown = () => ['bash', 'bench/strategies/cleanup.sh']

export const STRATEGIES: readonly Strategy[] = [
  {
    name: 'naive',
    summary: 'whole new color beside the old, health check, switch, stop the old color',
    env: {},
    deploy: () => ['bash', 'bench/strategies/naive.sh'],
    cleanup: composeDown,
    failing: true,
  },
  {
    name: 'original',
    summary: 'the article: stop old worker+beat, up new web, sleep 15, 10 health tries, switch, up worker+beat',
    env: {},
    deploy: () => ['bash', 'bench/strategies/original.sh'],
    cleanup: composeDown,
    failing: true,
  },
  calmswap('stop'),
  calmswap('pause'),
  {
    name: 'calmswap-equivalent',
    summary: "bash making calmswap's docker calls (stop mode), for the orchestrator-cost target",
    env: {},
    deploy: () => ['bash', 'bench/strategies/calmswap-equivalent.sh'],
    cleanup: composeDown,
    failing: false,
  },
]

export function strategy(name: string): Strategy {
  const s = STRATEGIES.find((x) => x.name === name)
  if (!s) throw new Error(`unknown strategy "${name}" (known: ${STRATEGIES.map((x) => x.name).join(', ')})`)
  return s
}
