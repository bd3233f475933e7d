// A dry run over the same pretend host: what it prints, and the same list in the words of a
// real run's recording, to compare the two.
import { render } from '../../lib/command.ts'
import { makeContext } from '../../lib/context.ts'
import { DryRunExecutor } from '../../lib/executor.ts'
import { RecordingExecutor } from './recording.ts'
import type { Harness } from './world.ts'

/** A dry run reading the harness's pretend host through its own recorder. */
export function dryRun(h: Harness) {
  const printed: string[] = []
  const reads = new RecordingExecutor(h.world.respond)
  const ctx = makeContext({ config: h.config, exec: new DryRunExecutor(reads, (l) => printed.push(l)), ui: h.ctx.ui })
  return { printed, ctx, reads, changes: () => printed.map((l) => (l.startsWith('write ') ? l.split(' <<EOF')[0]! : l)) }
}

/** Every change a real run made, as a dry run would print it. */
export const recordedChanges = (h: Harness) =>
  h.exec.events.flatMap((e) => ('write' in e ? [`write ${e.write}`] : 'remove' in e ? [`rm -f ${e.remove}`] : e.cmd.mutates ? [render(e.cmd)] : []))
