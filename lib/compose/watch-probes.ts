// The watch's own requests: at low traffic a watch can see no request at all, and a release
// whose pages answer 500 would be kept as "too few requests". So, while real traffic is too
// scarce to judge, the watch asks the site's pages itself, through the proxy, one request at
// a time at a modest pace (a Pi serves them). They reach the log as any request does and are
// judged there, apart from real traffic: a query marker with a token drawn for each watch
// tells them apart. A client cannot guess the token, and a request that carried it anyway
// would only move into the probes' count, which is judged too: nothing can hide a failure.
import { createRequire } from 'node:module'
import type { Config } from '../config.ts'
import { anySignal, sleep } from '../deadlines.ts'
import { probe } from '../probe.ts'

export const PROBE_PARAM = 'calmswap-probe'

// node:crypto costs a process about 1 MB of RSS: it loads when a watch draws its token, not
// in every process whose bundle holds the watch's code (status's, build.mjs).
const require = createRequire(import.meta.url)

/** A fresh token for one watch. */
export const probeToken = (): string => (require('node:crypto') as typeof import('node:crypto')).randomBytes(12).toString('hex')

/** The URL of one probe: the path with the marker added to its query. */
export const probeUrl = (base: string, path: string, token: string): string => `${base}${path}${path.includes('?') ? '&' : '?'}${PROBE_PARAM}=${token}`

/** Whether a logged request URI is one of this watch's probes. */
export function isProbe(uri: string, token: string): boolean {
  const q = uri.indexOf('?')
  if (q < 0 || !uri.includes(PROBE_PARAM)) return false
  try {
    return new URLSearchParams(uri.slice(q + 1)).getAll(PROBE_PARAM).includes(token)
  } catch {
    return false
  }
}

/** Whether this config can send probes: paths to ask, and a proxy URL to ask them through. */
export const probing = (c: Pick<Config, 'watch' | 'proxy'>): boolean => c.watch.probe.paths.length > 0 && Boolean(c.proxy.url) && c.proxy.mode !== 'none'

export interface Probes {
  /** Probes sent so far. */
  readonly sent: () => number
  /** Ends the loop; resolves once the probe in flight, if any, is over. */
  stop(): Promise<void>
}

/**
 * Sends probes to the paths in turn, at most one every `everyMs`, never two at once: each has
 * the health check's timeout as its deadline and ends at `signal`. `wanted()` is asked before
 * each one: the watch stops asking once real traffic alone is enough to judge.
 */
export function startProbes(
  c: Pick<Config, 'watch' | 'proxy' | 'health'>,
  token: string,
  o: { readonly signal: AbortSignal; readonly wanted: () => boolean; readonly onProbe?: (url: string, status: number | undefined) => void },
): Probes {
  const stop = new AbortController()
  const signal = anySignal([o.signal, stop.signal])
  let sent = 0
  const loop = (async () => {
    for (let i = 0; !signal.aborted; i++) {
      const t0 = Date.now()
      if (o.wanted()) {
        const url = probeUrl(c.proxy.url, c.watch.probe.paths[i % c.watch.probe.paths.length]!, token)
        sent++
        // Its answer is read from the proxy's log, as every request's: which color, and what it said.
        const r = await probe(url, { signal, host: c.health.host || undefined, status: 200, timeoutMs: c.health.timeoutMs })
        o.onProbe?.(url, r.status)
      }
      await sleep(c.watch.probe.everyMs - (Date.now() - t0), signal)
    }
  })()
  return {
    sent: () => sent,
    async stop() {
      stop.abort()
      await loop.catch(() => {})
    },
  }
}
