// Each color runs the images it was deployed with, whatever the tags in the compose file
// say now. With a fixed `image:` name both colors share one tag, and the next build moves
// it: anything that recreates an old-color container would run the new code. So after the
// build each image gets a name of calmswap's own for this release, and every compose call
// for the color adds an override that names those. The last CALMSWAP_KEEP_RELEASES
// releases keep their images, so any of them can be deployed again; older ones are removed.
import { imageId, tagImage, untagImage } from '../builders/images.ts'
import { type Color, type Config, coloredServices, pinFile, projectName, withPin } from '../config.ts'
import type { Ctx } from '../context.ts'
import type { KeptRelease } from '../state.ts'
import { type ComposeModel, readComposeModel } from './contract.ts'

/** A release label as a Docker tag: tags allow [A-Za-z0-9_.-]. */
const tagOf = (release: string) => release.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 128) || 'release'

/** calmswap's own name for a service's image of a release. */
const releaseTag = (c: Pick<Config, 'prefix'>, service: string, release: string) => `calmswap/${c.prefix}/${service}:${tagOf(release)}`

/** The compose override that names the pinned images; YAML simple enough to write by hand. */
function renderPins(release: string, images: Readonly<Record<string, string>>): string {
  return [
    `# Written by calmswap: the images of release ${release}. Every compose call for this color adds this file.`,
    'services:',
    ...Object.entries(images).flatMap(([service, tag]) => [`  ${service}:`, `    image: ${JSON.stringify(tag)}`]),
    '',
  ].join('\n')
}

/** A release kept from an earlier deploy, when all its images are still here: deploying it again needs no build. */
export async function keptRelease(ctx: Ctx, release: string): Promise<KeptRelease | null> {
  const r = ctx.state.load().releases?.findLast((x) => x.release === release)
  if (!r) return null
  for (const i of Object.values(r.images)) if ((await ctx.run(imageId(ctx.config, i.tag))).stdout.trim() !== i.id) return null
  return r
}

/**
 * Pins the new color to the images its build left (or to a kept release's): each is tagged
 * for this release, the override file is written, and the state records both. Returns the
 * config every later compose call of the deploy must use.
 */
export async function pinRelease(ctx: Ctx, color: Color, kept: KeptRelease | null, model?: ComposeModel): Promise<Config> {
  const c = ctx.config
  const record = kept ?? (await tagRelease(ctx, color, model))
  const images = Object.fromEntries(Object.entries(record.images).map(([s, i]) => [s, i.tag]))
  if (!Object.keys(images).length) {
    ctx.ui.detail('  no local images to pin')
    return withPin(c, color, null)
  }
  await ctx.exec.writeFile(pinFile(c, color), renderPins(c.release, images), 0o644)
  ctx.state.pinned(color, { release: c.release, images }, { ...record, at: new Date().toISOString() })
  ctx.ui.detail(
    `  ${color} pinned to ${Object.values(record.images)
      .map((i) => i.id.replace(/^sha256:/, '').slice(0, 12))
      .filter((x, i, all) => all.indexOf(x) === i)
      .join(', ')} (${kept ? 'kept from an earlier deploy' : 'as built'})`,
  )
  return withPin(c, color, { file: pinFile(c, color), release: c.release })
}

/** The images the compose file names for this color now, each tagged as this release's. */
async function tagRelease(ctx: Ctx, color: Color, read?: ComposeModel): Promise<KeptRelease> {
  const c = ctx.config
  const model = read ?? (await readComposeModel(ctx, color))
  const images: Record<string, KeptRelease['images'][string]> = {}
  for (const service of coloredServices(c)) {
    const svc = model.services[service]
    if (!svc) continue
    // Compose names an image it builds without an `image:` after the project and service.
    const ref = svc.image ?? `${projectName(c, color)}-${service}`
    const id = (await ctx.run(imageId(c, ref))).stdout.trim()
    // Not here: Compose would pull it at `up`; nothing local to pin. A dry run sees the host
    // before the build it plans: an image that build would make is pinned as the real run would.
    if (!id.startsWith('sha256:') && !(ctx.exec.dryRun && svc.build && c.build !== 'never')) continue
    const tag = await freeTag(ctx, releaseTag(c, service, c.release), id)
    // Tagged by the reference the build just moved, not by an id read before it: a dry run
    // prints the very command the real run makes.
    if ((await ctx.run(imageId(c, tag))).stdout.trim() !== id || !id) await ctx.must(tagImage(c, ref, tag))
    images[service] = { tag, ref, id }
  }
  return { release: c.release, at: new Date().toISOString(), images }
}

/**
 * The tag for an image of this release: calmswap's own tag never moves to another image,
 * because a color may be pinned to it. The same label built again (a rebuild of one git
 * commit with local changes) gets the next free name: <release>-2, -3...
 */
async function freeTag(ctx: Ctx, base: string, id: string): Promise<string> {
  for (let n = 1; ; n++) {
    const tag = n === 1 ? base : `${base}-${n}`
    const at = (await ctx.run(imageId(ctx.config, tag))).stdout.trim()
    if (!at.startsWith('sha256:') || at === id) return tag
  }
}

/**
 * After a finished deploy: the images of releases older than the last CALMSWAP_KEEP_RELEASES
 * (and not run by either color) lose calmswap's names, and the name the build gave them when
 * nothing newer took it; Docker then removes the image and its layers. An image a container
 * still uses is refused by Docker and tried again next time.
 */
export async function pruneReleases(ctx: Ctx): Promise<void> {
  const c = ctx.config
  const s = ctx.state.load()
  const all = s.releases ?? []
  const running = new Set(Object.values(s.colors ?? {}).map((x) => x?.release))
  const keep = new Set(all.slice(-c.keepReleases).map((r) => r.release))
  const kept: KeptRelease[] = []
  const removed: string[] = []
  for (const r of all) {
    if (keep.has(r.release) || running.has(r.release)) {
      kept.push(r)
      continue
    }
    const laterRefs = new Set(all.filter((x) => x !== r).flatMap((x) => Object.values(x.images).map((i) => i.ref)))
    let ok = true
    for (const i of Object.values(r.images)) {
      if ((await ctx.run(untagImage(c, i.tag))).code !== 0 && (await ctx.run(imageId(c, i.tag))).code === 0) ok = false
      // The build's own name, when it still names this image and no kept release names it too.
      if (!laterRefs.has(i.ref) && (await ctx.run(imageId(c, i.ref))).stdout.trim() === i.id) await ctx.run(untagImage(c, i.ref))
    }
    if (ok) removed.push(r.release)
    else kept.push(r)
  }
  if (removed.length || kept.length !== all.length) ctx.state.keepReleases(kept)
  if (removed.length) ctx.ui.detail(`  images of release${removed.length > 1 ? 's' : ''} ${removed.join(', ')} removed (CALMSWAP_KEEP_RELEASES=${c.keepReleases})`)
}
