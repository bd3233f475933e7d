// The picture of watched deploys (bench/watch.ts): one lane per deploy, time 0 = its start,
// each on its own time scale. Per second: the share of requests the old and the new release
// answered (stacked, old below); over the last 5 s: the share of each one's answers that
// failed (a line each); and the moments that matter marked: healthy, canary, switch, the
// watch's window, the rollback. Colors stand for old and new, whichever of blue and green
// each was. Plain SVG text, like bench/svg.ts.

export interface Lane {
  readonly title: string
  readonly caption: string
  /** Seconds from the deploy's start. */
  readonly t1: number
  /** `role`: answered by the release that was live before ("old") or the one deployed ("new"). */
  readonly requests: readonly { readonly t: number; readonly role: 'old' | 'new' | '?'; readonly failed: boolean }[]
  readonly marks: readonly { readonly t: number; readonly label: string; readonly bad?: boolean }[]
}

const W = 1100
const LEFT = 60
const RIGHT = 20
const PLOT = W - LEFT - RIGHT
const H = 120
const LANE = H + 70
const FILL: Record<string, string> = { old: '#9ecae1', new: '#a1d99b' }
const LINE: Record<string, string> = { old: '#08519c', new: '#d7301f' }
/** The 5xx lines are a share over this many seconds: at a 10% canary one second holds two requests. */
const ERR_WINDOW_S = 5

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const n = (v: number) => (Math.round(v * 10) / 10).toString()

interface Bin {
  readonly t: number
  readonly total: number
  readonly by: Record<string, { answered: number; failed: number }>
}

function bins(l: Lane, widthS: number): Bin[] {
  const out: Bin[] = []
  for (let s = 0; s < Math.ceil(l.t1); s++) {
    const inside = l.requests.filter((r) => r.t >= s + 1 - widthS && r.t < s + 1)
    const by: Bin['by'] = {}
    for (const r of inside) {
      const b = (by[r.role] ??= { answered: 0, failed: 0 })
      b.answered++
      if (r.failed) b.failed++
    }
    out.push({ t: s, total: inside.length, by })
  }
  return out
}

function lane(l: Lane, y: number): string {
  const tMax = Math.max(10, Math.ceil(l.t1))
  const x = (t: number) => LEFT + (t / tMax) * PLOT
  const top = y + 34
  const yv = (v: number) => top + H - v * H
  const out: string[] = [
    `<text x="${LEFT}" y="${y + 14}" class="title">${esc(l.title)}</text>`,
    `<text x="${LEFT}" y="${y + 28}" class="cap">${esc(l.caption)}</text>`,
    `<rect x="${LEFT}" y="${top}" width="${PLOT}" height="${H}" class="bg"/>`,
  ]
  // Traffic share: the old release from the bottom, the new one stacked on it (no answer on top, grey).
  for (const b of bins(l, 1).filter((b) => b.total)) {
    let acc = 0
    for (const role of ['old', 'new', '?']) {
      const share = (b.by[role]?.answered ?? 0) / b.total
      if (!share) continue
      out.push(
        `<rect x="${n(x(b.t))}" y="${n(yv(acc + share))}" width="${n(x(b.t + 1) - x(b.t) + 0.3)}" height="${n(share * H)}" fill="${FILL[role] ?? '#bbb'}"><title>${b.t}s: ${role} ${(100 * share).toFixed(0)}% of ${b.total}</title></rect>`,
      )
      acc += share
    }
  }
  // 5xx share of each release's answers over the last few seconds.
  const errs = bins(l, ERR_WINDOW_S)
  const now = bins(l, 2)
  for (const role of ['old', 'new']) {
    // Only while it still answers: after a rollback the window would go on averaging the past.
    const pts = errs.filter((b, i) => b.by[role]?.answered && now[i]?.by[role]?.answered).map((b) => [x(b.t + 1), yv(b.by[role]!.failed / b.by[role]!.answered)] as const)
    if (pts.length > 1) out.push(`<path d="${pts.map(([px, py], i) => `${i ? 'L' : 'M'}${n(px)},${n(py)}`).join('')}" class="err" stroke="${LINE[role]}"/>`)
  }
  // Marks, their labels on two rows inside the plot so that close ones do not overlap.
  for (const [i, m] of [...l.marks].sort((a, b) => a.t - b.t).entries()) {
    out.push(`<line x1="${n(x(m.t))}" x2="${n(x(m.t))}" y1="${top}" y2="${top + H}" class="${m.bad ? 'mark bad' : 'mark'}"/>`)
    out.push(`<text x="${n(x(m.t) + 2)}" y="${top + 11 + (i % 2) * 12}" class="${m.bad ? 'ml bad' : 'ml'}">${esc(m.label)}</text>`)
  }
  for (const v of [0, 0.5, 1]) out.push(`<text x="${LEFT - 4}" y="${n(yv(v) + 3)}" class="axis" text-anchor="end">${v * 100}%</text>`)
  for (let t = 0; t <= tMax; t += tMax > 60 ? 10 : 5) out.push(`<text x="${n(x(t))}" y="${top + H + 12}" class="axis" text-anchor="middle">${t}s</text>`)
  return out.join('\n')
}

export function watchTimelineSvg(lanes: readonly Lane[]): string {
  const height = 40 + lanes.length * LANE + 20
  const legend = [
    ['answered by the old release', FILL.old!, 'rect'],
    ['by the new release', FILL.new!, 'rect'],
    [`5xx share of the old (last ${ERR_WINDOW_S} s)`, LINE.old!, 'line'],
    [`5xx share of the new (last ${ERR_WINDOW_S} s)`, LINE.new!, 'line'],
  ]
    .map(([label, color, kind], i) => {
      const lx = LEFT + i * 230
      const sym =
        kind === 'rect'
          ? `<rect x="${lx}" y="10" width="12" height="10" fill="${color}"/>`
          : `<line x1="${lx}" x2="${lx + 12}" y1="15" y2="15" stroke="${color}" stroke-width="2"/>`
      return `${sym}<text x="${lx + 16}" y="19" class="cap">${label}</text>`
    })
    .join('')
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif">`,
    '<style>.title{font-size:13px;font-weight:bold}.cap{font-size:11px;fill:#444}.axis{font-size:10px;fill:#666}.bg{fill:#f7f7f7}.err{fill:none;stroke-width:1.6}.mark{stroke:#333;stroke-dasharray:3,2}.ml{font-size:10px;fill:#333}.mark.bad{stroke:#d7301f;stroke-width:1.5}.ml.bad{fill:#d7301f;font-weight:bold}</style>',
    legend,
    ...lanes.map((l, i) => lane(l, 34 + i * LANE)),
    '</svg>',
    '',
  ].join('\n')
}
