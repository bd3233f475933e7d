// A command run inside a running container: the quiesce scripts and the proxies' checks and
// reloads. It needs only the docker binary of a config, so the proxy drivers stand on it
// without the rest of the builders.
import type { Cmd } from '../command.ts'
import { DEADLINE } from '../deadlines.ts'

export const dockerExec = (c: { readonly docker: string }, container: string, argv: readonly string[], mutates: boolean, timeoutMs: number = DEADLINE.proxy): Cmd => ({
  argv: [c.docker, 'exec', container, ...argv],
  mutates,
  timeoutMs,
  api: { op: 'exec', container, argv },
})
