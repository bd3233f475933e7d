// What a watched phase (a canary step, or the watch after the switch) saw, as history records
// and prints it: plain data, so history stands below the watch that produces it.
import { type Color, otherColor } from './config.ts'
import { fmtMs } from './ui.ts'

/** What one color did: every try nginx made on it, and the answers clients got from it. */
export interface Counts {
  /** Requests nginx sent to this color (a retried request counts once per color it tried). */
  requests: number
  /** Of those, answered 5xx, or not at all (nginx logs 502/504). */
  errors: number
  /** Answers clients got from this color, and how many of them were 5xx. */
  answered: number
  failed: number
}

export type Tally = Record<Color, Counts>
export type Verdict = 'ok' | 'bad' | 'stopped' | 'too-few-requests'

/** One watched phase (a canary step, or the watch after the switch), as history records it. */
export interface PhaseReport {
  /** "watch", or "canary 10%". */
  readonly phase: string
  readonly color: Color
  /** The share (%) of requests the color was sent. */
  readonly share: number
  readonly verdict: Verdict
  readonly reason?: string
  /** How long it was watched, from the moment the color got its share of the traffic. */
  readonly ms: number
  /** The window: the part of `ms` after the new workers ran (the watch), or all of it (a canary step). */
  readonly windowMs: number
  readonly counts: Tally
  /** The watch's own requests (lib/compose/watch-probes.ts), counted apart; absent in records from before they existed. */
  readonly probes?: Tally
  /** Whether the proxy's log was there to read. */
  readonly log: boolean
  /** CPU time of this process during the window, when watching is all it does (user + system). */
  readonly cpuMs: number
}

/** One line on what a phase saw: "watch 1m0s: ok; green 1180 requests, 0 5xx; 0.04 CPU-s". */
export function formatReport(r: PhaseReport): string {
  const mine = r.counts[r.color]
  const other = r.counts[otherColor(r.color)]
  const seen = r.log
    ? `${r.color} ${mine.requests} requests, ${mine.errors} 5xx${other.requests ? `; ${otherColor(r.color)} ${other.requests} requests, ${other.errors} 5xx` : ''}`
    : 'no proxy log'
  const own = r.probes?.[r.color]
  const probes = r.log && own?.requests ? `; own requests ${own.requests}, ${own.errors} 5xx` : ''
  const cpu = `${(r.cpuMs / 1000).toFixed(2)} CPU-s in its ${fmtMs(r.windowMs)} window`
  return `${r.phase} ${fmtMs(r.ms)}: ${r.verdict}; ${seen}${probes}; ${cpu}${r.reason ? ` (${r.reason})` : ''}`
}
