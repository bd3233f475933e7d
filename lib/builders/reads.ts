// Reads of the host: containers, versions, health, images, volumes, CPU, events, and an exec.
import type { Cmd, Reader } from '../command.ts'
import { type Config, type Project, projectName } from '../config.ts'
import { DEADLINE } from '../deadlines.ts'
import type { ApiData } from '../docker-api.ts'

const PS_FORMAT = [
  '{{.ID}}',
  '{{.Label "com.docker.compose.project"}}',
  '{{.Label "com.docker.compose.service"}}',
  '{{.State}}',
  '{{.Status}}',
  '{{.Names}}',
  '{{.Image}}',
  '{{.Label "com.docker.compose.project.working_dir"}}',
].join('\t')

/** One call sees every container of every compose project: tab-separated, PS_FORMAT's fields. */
export const listContainers = (c: Config): Cmd => ({
  argv: [c.docker, 'ps', '-a', '--no-trunc', '--filter', 'label=com.docker.compose.project', '--format', PS_FORMAT],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'list' },
})

/** The daemon's version: `docker info` would also ask every CLI plugin for its metadata. */
export const dockerVersion = (c: Config): Cmd => ({
  argv: [c.docker, 'version', '--format', '{{.Server.Version}}'],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'version' },
})

/** One line per container: its Docker healthcheck status, empty when it has none. */
export const healthStatus = (c: Config, id: string): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', id],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'inspect', ids: [id] },
})

/** One line per container: "<name> <image id>". */
export const imageIds = (c: Config, ids: readonly string[]): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{.Name}} {{.Image}}', ...ids],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'inspect', ids },
})

/** One line per container: "<name> <volume>:<destination>,..." for its named volumes. */
export const volumeMounts = (c: Config, ids: readonly string[]): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{.Name}} {{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}:{{.Destination}},{{end}}{{end}}', ...ids],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'inspect', ids },
})

/** Which named volumes exist: one name per line. */
export const volumeNames = (c: Config): Cmd => ({ argv: [c.docker, 'volume', 'ls', '--format', '{{.Name}}'], mutates: false, timeoutMs: DEADLINE.read })

/**
 * One line per container: "<name> <status> <restart count> <started at> <exit code>", to
 * tell a process that stays up from a crash loop.
 */
export const runState = (c: Config, ids: readonly string[]): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{.Name}} {{.State.Status}} {{.RestartCount}} {{.State.StartedAt}} {{.State.ExitCode}}', ...ids],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'inspect', ids },
})

/** What a container logged since `sinceS` (unix seconds): each line led by its RFC 3339 time. */
export const containerLogs = (c: Config, id: string, sinceS: number): Cmd => ({
  argv: [c.docker, 'logs', '--timestamps', '--since', sinceS.toFixed(3), id],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'logs', id, sinceS },
})

/**
 * CPU use of each container in % of one CPU, one line each: "ID\tNN.NN%". The CLI samples over
 * a second or more; through the Engine API it is two readings windowMs apart.
 */
export const containerCpu = (c: Config, ids: readonly string[], windowMs = 250): Cmd => ({
  argv: [c.docker, 'stats', '--no-stream', '--format', '{{.ID}}\t{{.CPUPerc}}', ...ids],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'cpu', ids, windowMs },
})

/**
 * The containers of one project, as they start, die, get OOM-killed or turn unhealthy: one
 * JSON object per line, from `sinceS` until `untilS` (unix seconds), when the stream ends by
 * itself. One call for a whole watch, not one per sample.
 */
export const containerEvents = (c: Config, p: Project, sinceS: number, untilS: number): Cmd => ({
  argv: [
    c.docker,
    'events',
    '--since',
    sinceS.toFixed(3),
    '--until',
    untilS.toFixed(3),
    '--filter',
    'type=container',
    '--filter',
    `label=com.docker.compose.project=${projectName(c, p)}`,
    '--format',
    '{{json .}}',
  ],
  mutates: false,
  timeoutMs: Math.max(0, untilS - sinceS) * 1000 + DEADLINE.read,
  api: { op: 'events', project: projectName(c, p), sinceS, untilS },
})

/** The highest CPU % of `containerCpu`'s answer. */
export const maxCpu: Reader<number, ApiData['cpu']> = {
  cli: (stdout) => Math.max(0, ...[...stdout.matchAll(/([\d.]+)%/g)].map((m) => Number(m[1]))),
  api: (pct) => Math.max(0, ...pct),
}
