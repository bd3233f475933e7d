// The targets of issue 3, checked per strategy, and the terminal table.
import type { PhaseResult, StrategyResult } from './runner.ts'

export interface Target {
  readonly strategy: string
  readonly id: string
  readonly title: string
  readonly value: number | null
  readonly limit: number | null
  /** null: not applicable to this strategy, or not measured. */
  readonly met: boolean | null
  readonly note?: string
}

export const TARGET_TITLES: Record<string, string> = {
  failedGood: 'failed requests, good deploy = 0',
  failedFailing: 'failed requests, failing deploy + rollback = 0',
  beatAtOnce: 'beat containers at once ≤ 1',
  lostTasks: 'lost tasks = 0',
  stallRatio: 'CPU stall in deploy ≤ 1.5× steady',
  switched: 'traffic switched ≤ web boot + 2 s',
  orchestratorCpu: 'orchestrator CPU ≤ 1.5× bash equivalent',
  deployVsSeed: "deploy ≤ 0.5× the seed order's (original), same run",
  p99Ratio: 'web p99 in deploy ≤ 1.2× steady',
  gap: 'no task processed ≤ web boot + 1 s',
  nodeRss: 'calmswap peak RSS ≤ 60 MB',
  readersRss: 'status, health peak RSS (median) ≤ 45 MB',
}

const SEED = 'original'

const EQUIVALENT = 'calmswap-equivalent'

export function targets(results: readonly StrategyResult[]): Target[] {
  const out: Target[] = []
  const equivalent = results.find((r) => r.name === EQUIVALENT)?.phases.good?.orchestrator.cpuS ?? null
  for (const r of results) {
    const { good, failing } = r.phases
    const t = (id: string, value: number | null, limit: number | null, ok: (v: number, l: number) => boolean, note?: string) =>
      out.push({ strategy: r.name, id, title: TARGET_TITLES[id]!, value, limit, met: value === null || limit === null ? null : ok(value, limit), ...(note ? { note } : {}) })
    const phases = [good, failing].filter((p): p is PhaseResult => p !== null)
    t('failedGood', good?.requests.failed ?? null, 0, (v, l) => v <= l)
    t('failedFailing', failing?.requests.failed ?? null, 0, (v, l) => v <= l)
    t('beatAtOnce', phases.length ? Math.max(...phases.map((p) => p.beatMaxAtOnce)) : null, 1, (v, l) => v <= l)
    t(
      'lostTasks',
      phases.length ? phases.reduce((a, p) => a + p.tasks.lost, 0) : null,
      0,
      (v, l) => v <= l,
      phases.some((p) => !p.tasks.drained) ? 'queue not drained within the timeout' : undefined,
    )
    t('stallRatio', good?.cpu.stallRatio ?? null, 1.5, (v, l) => v <= l)
    t('switched', good?.deploy.switchedS ?? null, r.webBootS === null ? null : r.webBootS + 2, (v, l) => v <= l)
    if (r.name.startsWith('calmswap-') && r.name !== EQUIVALENT) {
      t('orchestratorCpu', good?.orchestrator.cpuS ?? null, equivalent === null ? null : 1.5 * equivalent, (v, l) => v <= l)
    }
    const seed = results.find((x) => x.name === SEED)?.phases.good
    const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || !b ? null : a / b)
    if (r.name !== SEED && seed?.deploy.asExpected) t('deployVsSeed', ratio(good?.deploy.doneS, seed.deploy.doneS), 0.5, (v, l) => v <= l)
    t('p99Ratio', ratio(good?.latencyMs.deploy.p99, good?.latencyMs.steady.p99), 1.2, (v, l) => v <= l)
    t('gap', good?.processingGapS ?? null, r.webBootS === null ? null : r.webBootS + 1, (v, l) => v <= l)
    if (r.name.startsWith('calmswap-') && r.name !== EQUIVALENT) {
      t('nodeRss', good?.orchestrator.nodeMaxRssMb ?? null, 60, (v, l) => v <= l)
      const med = [good?.readers?.status?.median, good?.readers?.health?.median].filter((x): x is number => typeof x === 'number')
      t('readersRss', med.length ? Math.max(...med) : null, 45, (v, l) => v <= l)
    }
  }
  return out
}

// ---------------------------------------------------------------- table

const f = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits))
const mark = (met: boolean | null) => (met === null ? ' ' : met ? '✓' : '✗')

type Row = [string, ...string[]] | null

function phaseRows(results: readonly StrategyResult[], which: 'good' | 'failing'): Row[] {
  const col = (get: (p: PhaseResult, r: StrategyResult) => string) => results.map((r) => (r.phases[which] ? get(r.phases[which]!, r) : '—'))
  return [
    ['exit code (expected)', ...col((p) => `${p.deploy.exitCode}${p.deploy.asExpected ? '' : ' UNEXPECTED'}`)],
    ['failed requests / total', ...col((p) => `${p.requests.failed} / ${p.requests.total}`)],
    ['latency in deploy p50/p99/max ms', ...col((p) => `${f(p.latencyMs.deploy.p50, 0)}/${f(p.latencyMs.deploy.p99, 0)}/${f(p.latencyMs.deploy.max, 0)}`)],
    ['latency steady p50/p99/max ms', ...col((p) => `${f(p.latencyMs.steady.p50, 0)}/${f(p.latencyMs.steady.p99, 0)}/${f(p.latencyMs.steady.max, 0)}`)],
    ['CPU stall ms/s steady → deploy', ...col((p) => `${f(p.cpu.steady?.stallMsPerS, 0)} → ${f(p.cpu.deploy?.stallMsPerS, 0)}`)],
    ['  ratio deploy / steady', ...col((p) => `${p.warnings.some((w) => w.startsWith('steady window disturbed')) ? '! ' : ''}${f(p.cpu.stallRatio, 2)}×`)],
    ['  worst 1 s, steady → deploy', ...col((p) => `${f(p.cpu.peakStallMsPerS.steady, 0)} → ${f(p.cpu.peakStallMsPerS.deploy, 0)}`)],
    ['  stall added by the deploy, s', ...col((p) => f(p.cpu.extraStallS, 2))],
    ['CPU busy % (2 CPUs) steady → deploy', ...col((p) => `${f(p.cpu.steady?.busyPct, 0)} → ${f(p.cpu.deploy?.busyPct, 0)}`)],
    ['pinned CPU busy % steady → deploy', ...col((p) => `${f(p.cpu.steady?.pinnedBusyPct, 0)} → ${f(p.cpu.deploy?.pinnedBusyPct, 0)}`)],
    ['traffic switched after s', ...col((p) => f(p.deploy.switchedS))],
    ['done after s', ...col((p) => f(p.deploy.doneS))],
    ['cleanup of old color s', ...col((p) => f(p.cleanup?.s))],
    ['beat containers at once (max)', ...col((p) => String(p.beatMaxAtOnce))],
    ['worker containers at once (max)', ...col((p) => String(p.workerMaxAtOnce))],
    ['tasks enqueued / executed / lost', ...col((p) => `${p.tasks.enqueued} / ${p.tasks.executed} / ${p.tasks.lost}${p.tasks.drained ? '' : '*'}`)],
    ['orchestrator CPU s (user+sys)', ...col((p) => `${f(p.orchestrator.cpuS, 2)} (${f(p.orchestrator.userS, 2)}+${f(p.orchestrator.sysS, 2)})`)],
    ['  of which the node process itself', ...col((p) => f(p.orchestrator.nodeSelfCpuS, 2))],
    ['node process peak RSS MB', ...col((p) => f(p.orchestrator.nodeMaxRssMb, 1))],
    ['no task processed, longest s', ...col((p) => f(p.processingGapS, 2))],
    [
      '  calmswap reports: gap s (no task run, at most) / RSS MB / CPU s',
      ...col((p) =>
        p.reported
          ? `${p.reported.gapS === null ? '—' : `${p.reported.gapTo === 'start' ? '≥' : ''}${f(p.reported.gapS, 2)}`}${p.reported.noTaskS != null ? ` (${f(p.reported.noTaskS, 2)})` : ''} / ${f(p.reported.maxRssMb, 1)} / ${f(p.reported.cpuS, 2)}`
          : '—',
      ),
    ],
    ...(which === 'good'
      ? [
          [
            'status / health RSS MB min-med-max',
            ...col((p) => (p.readers ? [p.readers.status, p.readers.health].map((x) => (x ? `${f(x.min, 1)}-${f(x.median, 1)}-${f(x.max, 1)}` : '—')).join(' / ') : '—')),
          ] as Row,
        ]
      : []),
    ['orchestrator peak RSS MB largest/tree', ...col((p) => `${f(p.orchestrator.maxRssMb, 0)} / ${f(p.orchestrator.treePeakRssMb, 0)}`)],
    ['docker CLI calls (compose) + API calls', ...col((p) => `${p.orchestrator.dockerCalls} (${p.orchestrator.composeCalls}) + ${p.orchestrator.apiCalls}`)],
    ...(which === 'good' ? [['cleanup CPU s', ...col((p) => f(p.cleanup?.cpuS, 2))] as Row] : []),
  ]
}

export function table(results: readonly StrategyResult[], ts: readonly Target[], notes: { stallSource: string; webBoot: string }): string {
  const head: Row = ['', ...results.map((r) => r.name)]
  const targetRows: Row[] = Object.entries(TARGET_TITLES).map(([id, title]) => [
    title,
    ...results.map((r) => {
      const t = ts.find((x) => x.strategy === r.name && x.id === id)
      if (!t || t.value === null) return '—'
      return `${mark(t.met)} ${Number.isInteger(t.value) ? t.value : t.value.toFixed(2)}${t.limit !== null && id !== 'failedGood' && id !== 'failedFailing' && id !== 'lostTasks' && id !== 'beatAtOnce' ? ` ≤${t.limit.toFixed(id === 'deployVsSeed' ? 2 : 1)}` : ''}`
    }),
  ])
  const rows: Row[] = [
    head,
    null,
    ['GOOD DEPLOY'],
    ...phaseRows(results, 'good'),
    null,
    ['FAILING DEPLOY + ROLLBACK'],
    ...phaseRows(results, 'failing'),
    null,
    ['TARGETS'],
    ...targetRows,
  ]
  const widths = head.map((_, i) => Math.max(...rows.map((r) => (r && r.length > 1 ? [...(r[i] ?? '')].length : 0))))
  const line = '─'.repeat(widths.reduce((a, w) => a + w + 2, 0))
  const body = rows
    .map((r) => {
      if (!r) return line
      if (r.length === 1) return r[0]
      return r.map((c, i) => (i === 0 ? c.padEnd(widths[0]!) : c.padStart(widths[i]!))).join('  ')
    })
    .join('\n')
  const warnings = results.flatMap((r) => (['good', 'failing'] as const).flatMap((ph) => (r.phases[ph]?.warnings ?? []).map((w) => `! ${r.name} ${ph}: ${w}`)))
  return `${body}\n${line}\nCPU stall from ${notes.stallSource}. Web boot: ${notes.webBoot}. * = queue not drained within the timeout.${warnings.length ? `\n${warnings.join('\n')}` : ''}`
}

/** Where the p99 goes: the requests sent during each step of each deploy, their p99 and count. */
export function p99ByStep(results: readonly StrategyResult[]): string {
  return results
    .flatMap((r) =>
      (['good', 'failing'] as const).flatMap((ph) => {
        const p = r.phases[ph]
        if (!p) return []
        const steps = p.latencyByStep.filter((x) => x.n > 0).map((x) => `${x.step} ${f(x.p99, 0)} (${x.n})`)
        const slow = (p.slowest ?? []).map((x) => `${f(x.ms, 0)} ms at ${f(x.atS, 1)} s (${x.step})`)
        return [`  ${r.name} ${ph}: steady ${f(p.latencyMs.steady.p99, 0)}; ${steps.join(', ')}`, ...(slow.length ? [`    slowest: ${slow.join(', ')}`] : [])]
      }),
    )
    .join('\n')
}
