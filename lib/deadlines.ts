// How long each kind of external call may take before calmswap gives up on it. One table,
// so that a deadline is chosen by what the call does, never typed out again at a call site.

const S = 1000
const MIN = 60 * S

export const DEADLINE = {
  /** A read of the daemon (ps, inspect, version): milliseconds when healthy. */
  read: 20 * S,
  /** `compose config`: parses the file, no daemon needed. */
  composeConfig: 60 * S,
  /** A build on a Pi can take long; it runs before anything is touched. */
  build: 60 * MIN,
  /** `compose up`/`create`/`start`: pulls nothing (images are local), but a busy Pi is slow. */
  up: 10 * MIN,
  /** A signal, pause or unpause of a few containers. */
  signal: 60 * S,
  /** Unpause can wait behind a freezer that is still settling. */
  thaw: 5 * MIN,
  /** An exec into the proxy: `nginx -t` and a reload. */
  proxy: 60 * S,
  /** Logs of the failed color, printed on rollback. */
  logs: 30 * S,
  /** `docker stack deploy`: with --resolve-image it asks the registry for every image's digest. */
  stackDeploy: 3 * MIN,
  /** One service update call (scale, rollback): the manager answers once the spec is stored. */
  serviceUpdate: 60 * S,
  /** git rev-parse for the release label. */
  git: 10 * S,
  /** After Ctrl-C, a command that changes the host gets this long to finish before it is ended. */
  abortGrace: 15 * S,
  /** A process group that ignored SIGTERM gets SIGKILL after this. */
  killGrace: 3 * S,
  /** Longest a worker is given to stop consuming before its SIGTERM (lib/celery.ts). */
  quiesce: 15 * S,
  /** What a quiesce leaves of the grace for the warm shutdown itself. */
  quiesceMargin: 5 * S,
  /** A quiesce through the broker (swarm mode), beyond its own deadline: Celery's remote-control round trips. */
  quiesceBroker: 8 * S,
  /** An image pulled by a node that lacks it, on the way to a one-off container. */
  pull: 2 * MIN,
  /** The plain proxy of an adopted project, finishing what it has before calmswap's takes the port. */
  handOver: 30 * S,
  /** Image names: tag, untag, inspect. */
  image: 60 * S,
  /** Asking the proxy who answers, after a switch. */
  proxyCheck: 5 * S,
} as const

/** `compose stop`/`down` wait the grace, then Docker kills: the deadline covers both. */
export const stopDeadline = (graceS: number) => (graceS + 60) * S

/** Waits `ms`, or less when `signal` aborts first; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const t = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * AbortSignal.any where Node has it (20.3 on); on Node 18 (Debian 12's) an equivalent that
 * aborts with the first reason. The fallback holds its listeners until one signal aborts:
 * fine for the few per operation calmswap makes.
 */
export function anySignal(signals: readonly AbortSignal[]): AbortSignal {
  const native = (AbortSignal as { any?: (s: AbortSignal[]) => AbortSignal }).any
  if (typeof native === 'function') return native.call(AbortSignal, [...signals])
  return anySignalFallback(signals)
}

export function anySignalFallback(signals: readonly AbortSignal[]): AbortSignal {
  const ac = new AbortController()
  const gone = signals.find((s) => s.aborted)
  if (gone) {
    ac.abort(gone.reason)
    return ac.signal
  }
  const onAbort = (e: Event) => {
    for (const s of signals) s.removeEventListener('abort', onAbort)
    ac.abort((e.target as AbortSignal).reason)
  }
  for (const s of signals) s.addEventListener('abort', onAbort, { once: true })
  return ac.signal
}
