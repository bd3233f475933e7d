// A plain Compose project (`docker compose -p myproj up -d`) that already runs the app
// calmswap is about to take over. Its databases keep their data in volumes of its own
// (`myproj_postgres_data`): a shared project under another name would start Postgres on a
// new, empty volume. This module finds such a project and every volume whose data the
// shared project would not see, with the exact lines that keep it.
import { volumeMounts, volumeNames } from '../builders/reads.ts'
import { answer } from '../command.ts'
import { COLORS, type Config, coloredServices, projectName } from '../config.ts'
import type { Ctx } from '../context.ts'
import { type Container, volumesByName } from '../inventory.ts'
import type { ComposeModel } from './contract.ts'

export interface PlainProject {
  readonly project: string
  /** Its running containers of services calmswap has a role for. */
  readonly containers: readonly Container[]
}

export interface VolumeProblem {
  readonly service: string
  /** The volume's key in the compose file. */
  readonly key: string
  readonly destination: string
  /** Where the plain project keeps the data. */
  readonly plainVolume: string
  /** What the shared project would mount there. */
  readonly sharedVolume: string
  readonly sharedExists: boolean
}

/**
 * Plain projects that run this app: started by Compose from the folder of this compose file,
 * with services calmswap has a role for, other than calmswap's own three projects and other
 * calmswap stacks' (<prefix>-blue|green|shared: another prefix on the same box).
 */
async function findPlainProjects(ctx: Ctx): Promise<PlainProject[]> {
  const c = ctx.config
  const ours = new Set([...COLORS, 'shared' as const].map((p) => projectName(c, p)))
  const roles = new Set([...coloredServices(c), ...c.roles.shared])
  const found = new Map<string, Container[]>()
  for (const x of (await ctx.inventory()).all) {
    if (ours.has(x.project) || /-(blue|green|shared)$/.test(x.project) || x.workingDir !== c.projectDir) continue
    if (!roles.has(x.service) || x.state !== 'running') continue
    found.set(x.project, [...(found.get(x.project) ?? []), x])
  }
  return [...found.entries()].map(([project, containers]) => ({ project, containers }))
}

/**
 * The volumes a plain project's shared services keep data in that the shared project would
 * not mount: same service, same destination, another volume.
 */
async function volumeProblems(ctx: Ctx, model: ComposeModel, plain: PlainProject): Promise<VolumeProblem[]> {
  const c = ctx.config
  const mine = plain.containers.filter((x) => c.roles.shared.includes(x.service))
  if (!mine.length) return []
  const byName = answer(
    await ctx.run(
      volumeMounts(
        c,
        mine.map((x) => x.name),
      ),
    ),
    volumesByName,
  )
  const mounts = new Map(mine.flatMap((x) => (byName.has(x.name) ? [[x.service, byName.get(x.name)!] as const] : [])))
  const existing = new Set((await ctx.run(volumeNames(c))).stdout.split('\n').filter(Boolean))
  const problems: VolumeProblem[] = []
  for (const service of c.roles.shared) {
    const plainMounts = mounts.get(service)
    for (const v of model.services[service]?.volumes ?? []) {
      if (v.type !== 'volume' || !v.source || !v.target) continue
      const sharedVolume = sharedVolumeName(c, model, v.source)
      const plainVolume = plainMounts?.get(v.target)
      if (plainVolume && plainVolume !== sharedVolume) {
        problems.push({ service, key: v.source, destination: v.target, plainVolume, sharedVolume, sharedExists: existing.has(sharedVolume) })
      }
    }
  }
  return problems
}

/** The volume the shared project mounts for a key: its `name:`, else Compose's <project>_<key>. */
function sharedVolumeName(c: Config, model: ComposeModel, key: string): string {
  const top = model.volumes?.[key]
  // `compose config` fills in <project>_<key> for the project it was asked about: only a
  // name it did not make up for that project is the file's own.
  const made = (p: string) => `${p}_${key}`
  if (top?.name && !COLORS.some((col) => top.name === made(projectName(c, col)))) return top.name
  return made(projectName(c, 'shared'))
}

/** What to tell the operator: each volume, the lines that keep it, and the in-place alternative. */
function explainVolumes(plain: PlainProject, problems: readonly VolumeProblem[]): string[] {
  return problems.map(
    (p) =>
      `${p.service}: project ${plain.project} keeps its data in volume ${p.plainVolume} (${p.destination}); calmswap's shared project would mount ${p.sharedVolume}${p.sharedExists ? '' : ', a new, empty volume'}. ` +
      `Keep the data with, in the compose file:\n      volumes:\n        ${p.key}:\n          name: ${p.plainVolume}\n` +
      `    or adopt ${plain.project} in place, its databases untouched: CALMSWAP_SHARED_PROJECT=${plain.project}, then \`adopt\` (README: moving a running app).`,
  )
}

/**
 * Every reason a first deploy must not start the shared project beside a plain one: data it
 * would not see (a new, empty database while the data sits in another volume), or the same
 * volume a running server of the plain project holds (two servers on one data folder corrupt
 * it, and Postgres's lock file does not see a server in another container).
 */
export async function plainProjectProblems(ctx: Ctx, model: ComposeModel): Promise<string[]> {
  const c = ctx.config
  const out: string[] = []
  for (const plain of await findPlainProjects(ctx)) {
    if (plain.project === projectName(c, 'shared')) continue
    const problems = await volumeProblems(ctx, model, plain)
    out.push(...explainVolumes(plain, problems))
    const sharedData = plain.containers.filter((x) => c.roles.shared.includes(x.service) && !problems.some((p) => p.service === x.service))
    if (sharedData.length) {
      out.push(
        `project ${plain.project} runs ${sharedData.map((x) => x.service).join(', ')}: calmswap's shared project would start ${sharedData.length > 1 ? 'them' : 'it'} again beside ${sharedData.length > 1 ? 'them' : 'it'}. ` +
          `Adopt ${plain.project} in place (CALMSWAP_SHARED_PROJECT=${plain.project}, then \`adopt\`), or stop it first: docker compose -p ${plain.project} stop`,
      )
    }
  }
  return out
}
