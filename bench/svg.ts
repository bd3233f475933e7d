// The timeline picture: one lane per strategy and phase, time 0 = deploy start.
// Each lane: the deploy's steps, CPU stall (ms/s, PSI "some"), request latency (log scale,
// failed requests in red), and a red band where two beats ran at once. Plain SVG text.
import type { PhaseName, StrategyResult, Timeline } from './runner.ts'

const W = 1400
const LABEL = 230
const RIGHT = 20
const PLOT = W - LABEL - RIGHT
const STEPS_H = 16
const STALL_H = 56
const LAT_H = 56
const BEAT_H = 6
const GAP = 4
const LANE_H = STEPS_H + STALL_H + LAT_H + BEAT_H + 3 * GAP + 22

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const n = (v: number) => (Math.round(v * 10) / 10).toString()
const STEP_COLORS = ['#8dd3c7', '#bebada', '#fb8072', '#80b1d3', '#fdb462', '#b3de69', '#fccde5', '#d9d9d9', '#bc80bd', '#ccebc5']

interface Lane {
  readonly name: string
  readonly phase: PhaseName
  readonly timeline: Timeline
  readonly caption: string
}

function lane(l: Lane, y: number, x: (t: number) => number, t0: number, t1: number): string {
  const tl = l.timeline
  const out: string[] = []
  const top = y + 18
  out.push(`<text x="8" y="${y + 13}" class="lane">${esc(l.name)}</text>`)
  out.push(`<text x="8" y="${y + 28}" class="cap">${esc(l.caption)}</text>`)

  // steps: a Gantt row
  const stepNames = [...new Set(tl.steps.map((s) => s.name))]
  for (const s of tl.steps) {
    const x0 = x(Math.max(t0, s.startS))
    const x1 = Math.max(x0 + 1, x(Math.min(t1, s.endS)))
    const color = s.ok ? STEP_COLORS[stepNames.indexOf(s.name) % STEP_COLORS.length] : '#e31a1c'
    out.push(
      `<rect x="${n(x0)}" y="${top}" width="${n(x1 - x0)}" height="${STEPS_H}" fill="${color}" stroke="#fff" stroke-width="0.5"><title>${esc(`${s.name}: ${s.startS.toFixed(1)}s → ${s.endS.toFixed(1)}s${s.ok ? '' : ' (failed)'}`)}</title></rect>`,
    )
    if (x1 - x0 > s.name.length * 5.5) out.push(`<text x="${n(x0 + 2)}" y="${top + 12}" class="step">${esc(s.name)}</text>`)
  }
  if (tl.cleanupS) {
    const [a, b] = tl.cleanupS
    out.push(
      `<rect x="${n(x(a))}" y="${top}" width="${n(Math.max(1, x(b) - x(a)))}" height="${STEPS_H}" fill="#999"><title>cleanup ${a.toFixed(1)}s → ${b.toFixed(1)}s</title></rect>`,
    )
    if (x(b) - x(a) > 40) out.push(`<text x="${n(x(a) + 2)}" y="${top + 12}" class="step" fill="#fff">cleanup</text>`)
  }

  // CPU stall, 0..1000 ms/s
  const sTop = top + STEPS_H + GAP
  const sy = (v: number) => sTop + STALL_H - (Math.min(1000, Math.max(0, v)) / 1000) * STALL_H
  out.push(`<rect x="${LABEL}" y="${sTop}" width="${PLOT}" height="${STALL_H}" class="bg"/>`)
  out.push(
    `<rect x="${n(x(tl.steadyS[0]))}" y="${sTop}" width="${n(x(tl.steadyS[1]) - x(tl.steadyS[0]))}" height="${STALL_H}" class="steady"><title>steady-state window</title></rect>`,
  )
  const pts = tl.cpu.filter((c) => c.t >= t0 && c.t <= t1)
  if (pts.length) {
    const path = pts.map((c, i) => `${i ? 'L' : 'M'}${n(x(c.t))},${n(sy(c.stallMsPerS))}`).join('')
    out.push(`<path d="${path}L${n(x(pts.at(-1)!.t))},${sTop + STALL_H}L${n(x(pts[0]!.t))},${sTop + STALL_H}Z" class="stall"/>`)
    const busy = pts.map((c, i) => `${i ? 'L' : 'M'}${n(x(c.t))},${n(sTop + STALL_H - (c.busyPct / 100) * STALL_H)}`).join('')
    out.push(`<path d="${busy}" class="busy"/>`)
  }
  out.push(
    `<text x="${LABEL - 4}" y="${sTop + 8}" class="axis" text-anchor="end">1000</text><text x="${LABEL - 4}" y="${sTop + STALL_H}" class="axis" text-anchor="end">0 ms/s</text>`,
  )

  // latency, log scale 1 ms .. 10 s
  const lTop = sTop + STALL_H + GAP
  const ly = (ms: number) => lTop + LAT_H - ((Math.log10(Math.min(10_000, Math.max(1, ms))) - 0) / 4) * LAT_H
  out.push(`<rect x="${LABEL}" y="${lTop}" width="${PLOT}" height="${LAT_H}" class="bg"/>`)
  for (const g of [10, 100, 1000]) out.push(`<line x1="${LABEL}" x2="${LABEL + PLOT}" y1="${n(ly(g))}" y2="${n(ly(g))}" class="grid"/>`)
  out.push(
    `<text x="${LABEL - 4}" y="${lTop + 8}" class="axis" text-anchor="end">10 s</text><text x="${LABEL - 4}" y="${n(ly(100) + 3)}" class="axis" text-anchor="end">100 ms</text><text x="${LABEL - 4}" y="${lTop + LAT_H}" class="axis" text-anchor="end">1 ms</text>`,
  )
  const ok = tl.requests.filter((r) => !r.failed && r.t >= t0 && r.t <= t1)
  const bad = tl.requests.filter((r) => r.failed && r.t >= t0 && r.t <= t1)
  out.push(`<path d="${ok.map((r) => `M${n(x(r.t))},${n(ly(r.ms))}h1`).join('')}" class="req"/>`)
  for (const r of bad) out.push(`<path d="M${n(x(r.t) - 3)},${n(lTop + 3)}l6,6m0,-6l-6,6" class="fail"><title>failed request at ${r.t.toFixed(2)}s</title></path>`)

  // two beats at once
  const bTop = lTop + LAT_H + GAP
  for (let i = 0; i < tl.beats.length; i++) {
    const b = tl.beats[i]!
    const next = tl.beats[i + 1]?.t ?? b.t + 0.5
    if (b.n > 1 && b.t <= t1 && next >= t0)
      out.push(
        `<rect x="${n(x(Math.max(t0, b.t)))}" y="${bTop}" width="${n(Math.max(1, x(Math.min(t1, next)) - x(Math.max(t0, b.t))))}" height="${BEAT_H}" fill="#e31a1c"><title>${b.n} beats running</title></rect>`,
      )
  }

  // deploy start, switch, done
  const vline = (t: number | null, cls: string, label: string) =>
    t === null || t < t0 || t > t1 ? '' : `<line x1="${n(x(t))}" x2="${n(x(t))}" y1="${top}" y2="${bTop + BEAT_H}" class="${cls}"><title>${esc(label)}</title></line>`
  out.push(
    vline(0, 'v-start', 'deploy start'),
    vline(tl.switchedS, 'v-switch', `traffic switched ${tl.switchedS?.toFixed(1)}s`),
    vline(tl.doneS, 'v-done', `done ${tl.doneS.toFixed(1)}s`),
  )
  return out.join('\n')
}

export function timelineSvg(results: readonly StrategyResult[], title: string): string {
  const sections: { phase: PhaseName; heading: string; lanes: Lane[] }[] = (['good', 'failing'] as const).map((phase) => ({
    phase,
    heading: phase === 'good' ? 'Good deploy' : 'Failing deploy (APP_FAULT=health500) + rollback',
    lanes: results.flatMap((r) => {
      const p = r.phases[phase]
      if (!p) return []
      const cap = `stall ${p.cpu.stallRatio?.toFixed(2) ?? '—'}× · failed ${p.requests.failed} · beats ${p.beatMaxAtOnce} · ${p.deploy.switchedS === null ? 'no switch' : `switch ${p.deploy.switchedS.toFixed(1)}s`} · done ${p.deploy.doneS.toFixed(1)}s`
      return [{ name: r.name, phase, timeline: p.timeline, caption: cap }]
    }),
  }))
  let y = 40
  const body: string[] = []
  for (const s of sections.filter((x) => x.lanes.length)) {
    const t0 = Math.floor(Math.min(...s.lanes.map((l) => l.timeline.steadyS[0])) - 1)
    const t1 = Math.ceil(Math.max(...s.lanes.map((l) => Math.max(l.timeline.doneS, l.timeline.cleanupS?.[1] ?? 0) + 3)))
    const x = (t: number) => LABEL + ((t - t0) / (t1 - t0)) * PLOT
    body.push(`<text x="8" y="${y + 14}" class="h2">${esc(s.heading)}</text>`)
    y += 24
    for (let t = Math.ceil(t0 / 5) * 5; t <= t1; t += 5) {
      body.push(
        `<line x1="${n(x(t))}" x2="${n(x(t))}" y1="${y}" y2="${y + s.lanes.length * LANE_H}" class="tick"/><text x="${n(x(t))}" y="${y + s.lanes.length * LANE_H + 12}" class="axis" text-anchor="middle">${t}s</text>`,
      )
    }
    for (const l of s.lanes) {
      body.push(lane(l, y, x, t0, t1))
      y += LANE_H
    }
    y += 30
  }
  const legend = [
    '<rect x="0" y="-9" width="12" height="10" class="stall"/><text x="16" y="0">CPU stall ms/s (PSI some)</text>',
    '<path d="M170,-4h14" class="busy"/><text x="188" y="0">CPU busy % (both CPUs)</text>',
    '<rect x="335" y="-9" width="12" height="10" class="steady"/><text x="351" y="0">steady window</text>',
    '<path d="M450,-4h2" class="req" stroke-width="4"/><text x="458" y="0">request latency</text>',
    '<path d="M565,-8l6,6m0,-6l-6,6" class="fail"/><text x="577" y="0">failed request</text>',
    '<rect x="680" y="-8" width="12" height="6" fill="#e31a1c"/><text x="696" y="0">two beats at once</text>',
    '<path d="M815,-9v10" class="v-switch"/><text x="820" y="0">traffic switched</text>',
    '<path d="M930,-9v10" class="v-done"/><text x="935" y="0">deploy done</text>',
  ].join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif">
<style>
  text { font-size: 11px; fill: #222 }
  .h1 { font-size: 15px; font-weight: bold } .h2 { font-size: 13px; font-weight: bold }
  .lane { font-size: 12px; font-weight: bold } .cap { font-size: 9.5px; fill: #555 } .step { font-size: 9.5px }
  .axis { font-size: 9px; fill: #777 }
  .bg { fill: #fafafa; stroke: #ddd } .steady { fill: #000; opacity: 0.06 }
  .stall { fill: #f28e2b; opacity: 0.75 } .busy { fill: none; stroke: #4e79a7; stroke-width: 1 }
  .grid { stroke: #eee } .tick { stroke: #eee }
  .req { stroke: #1f4e79; stroke-width: 2; stroke-linecap: round } .fail { stroke: #e31a1c; stroke-width: 1.6 }
  .v-start { stroke: #000; stroke-width: 1 } .v-switch { stroke: #2ca02c; stroke-width: 1.5; stroke-dasharray: 4 2 } .v-done { stroke: #000; stroke-width: 1.5; stroke-dasharray: 2 2 }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="8" y="18" class="h1">${esc(title)}</text>
<g transform="translate(${LABEL},32)">${legend}</g>
${body.join('\n')}
</svg>
`
}
