// The seam between calmswap and the proxy in front of the two colors. One driver per proxy
// (nginx, Caddy, Traefik, a user's command, none): it renders the file calmswap writes for
// the live color, its backup, a canary's share and the watch's log; names the commands that
// validate that file and make the proxy read it gracefully; and reads one line of the
// proxy's access log. The switch itself (write, validate, reload, put the old file back on
// a rejection) is the same for all and stays in the traffic step.
import type { Cmd } from '../command.ts'
import type { Color, Config, ProxyKind } from '../config.ts'

/**
 * How the proxy sends traffic besides the live color: a canary's share (the other color gets
 * the rest, as a primary, not a backup), and whether it logs each request for the watch.
 */
export interface Route {
  /** The share (%) of requests `color` gets in a canary step; the `backup` color gets the rest. */
  readonly share?: number
  /** Turns the proxy's JSON access log on, for a watch or a canary. */
  readonly log?: boolean
}

/** One request as the proxy logged it: each upstream it tried (by port), and what the client got. */
export interface LoggedRequest {
  readonly tries: readonly { readonly port: number | null; readonly status: number }[]
  readonly status: number
  readonly uri: string
}

export interface ProxyCommands {
  /** Checks the new config before the reload; null when there is no check, or `reload` makes it. */
  readonly test: Cmd | null
  readonly reload: Cmd
  /** The exit code of a `reload` that checked first: the check failed and nothing reloaded. */
  readonly rejected?: number
}

export interface ProxyDriver {
  readonly kind: ProxyKind
  /** The proxy's own check, as messages name it ("nginx -t"). */
  readonly checkName: string
  /** What messages call the file calmswap writes ("upstream"). */
  readonly fileName: string
  /** The proxy writes the JSON access log the watch reads, switched on and off by the rendered file. */
  readonly logs: boolean
  /** The file calmswap writes: `color` live, `backup` (still running) as its fallback or the rest of a canary. */
  render(c: Config, color: Color, backup: Color | null, route: Route, template?: string): string
  /** Checks a rendered file before it is written, for a proxy with no check of its own; the problems found. */
  validate?(text: string): string[]
  /** Validate and gracefully reload; null when the proxy reads the file by itself (or there is none). */
  commands(c: Config, color: Color, container: string | undefined): ProxyCommands | null
  /** The check of the proxy as it is, for doctor; null when there is none. */
  check(c: Config, container: string | undefined): Cmd | null
  /** The live port a written file names, if it names one: how an adopted host tells which color serves. */
  livePort(text: string): number | null
  /** One line of the proxy's access log; null for anything else. `ports` name the colors where the log names a service. */
  parse(line: string, ports?: Readonly<Record<Color, number>>): LoggedRequest | null
}

export const portOf = (addr: string): number | null => {
  const m = /:(\d+)\/?$/.exec(addr.trim())
  return m ? Number(m[1]) : null
}

/** The JSON object on one log line, or null. */
export function jsonLine(line: string): Record<string, unknown> | null {
  try {
    const x = JSON.parse(line)
    return x && typeof x === 'object' && !Array.isArray(x) ? x : null
  } catch {
    return null
  }
}

/** `share` % as the smallest whole counts of (new, old) entries: 10% is 1 and 9, 33% is 33 and 67. */
export function shareCounts(share: number): [number, number] {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a)
  const s = Math.round(share)
  const g = gcd(s, 100 - s) || 1
  return [s / g, (100 - s) / g]
}
