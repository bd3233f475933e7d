// The contract between calmswap and a compose file, checked on the file as Compose
// itself resolves it (`docker compose config --format json`), never with our own YAML parser.
import { composeConfig } from '../builders/compose.ts'
import type { Cmd } from '../command.ts'
import { type Color, type Config, coloredServices, projectName } from '../config.ts'

export interface ComposeModel {
  name?: string
  services: Record<string, ComposeService>
  volumes?: Record<string, { name?: string; external?: boolean }>
}

interface ComposeService {
  image?: string
  build?: unknown
  container_name?: string
  network_mode?: string
  ports?: { published?: string | number; target?: number; host_ip?: string }[]
  volumes?: { type?: string; source?: string; target?: string }[]
  environment?: Record<string, string | null>
}

// Images that keep data of their own. One per color would fork the data.
export const STATEFUL_IMAGE =
  /(^|\/)(postgres|postgis|timescaledb|mysql|mariadb|mongo|redis|valkey|keydb|rabbitmq|elasticsearch|opensearch|influxdb|clickhouse|cassandra|couchdb|neo4j|minio|memcached|etcd|zookeeper|kafka)([:@]|$)/

/** What reading the compose file needs of a step's context: its config, and a command that must succeed. */
export interface ReadCtx {
  readonly config: Config
  must(cmd: Cmd): Promise<string>
}

export async function readComposeModel(ctx: ReadCtx, color: Color = 'blue'): Promise<ComposeModel> {
  const out = await ctx.must(composeConfig(ctx.config, color))
  return JSON.parse(out) as ComposeModel
}

export const servicesWithBuild = (m: ComposeModel, services: readonly string[]) => services.filter((s) => m.services[s]?.build)

/** Every way the compose file breaks the contract, each with the fix. Empty means fine. */
export function checkContract(c: Config, m: ComposeModel, color: Color = 'blue'): string[] {
  const problems: string[] = []
  const all = Object.keys(m.services ?? {})
  const roles = c.roles
  const roleOf = new Map<string, string>()
  for (const [role, names] of Object.entries(roles)) for (const n of names) roleOf.set(n, role)

  for (const [role, names] of Object.entries(roles)) {
    for (const n of names) {
      if (!m.services[n]) problems.push(`${role} service "${n}" is not in ${c.composeFile} (it has: ${all.join(', ') || 'no services'}). Fix CALMSWAP_${role.toUpperCase()}.`)
    }
  }
  for (const s of all) {
    if (!roleOf.has(s)) problems.push(`service "${s}" has no role. Add it to CALMSWAP_SHARED (one copy for both colors) or to CALMSWAP_CORE / CALMSWAP_WORKERS (one per color).`)
  }

  const colored = coloredServices(c).filter((s) => m.services[s])
  for (const s of colored) {
    const svc = m.services[s]!
    if (svc.container_name) problems.push(`colored service "${s}" sets container_name "${svc.container_name}": blue and green cannot both have it. Remove container_name.`)
    if (svc.image && STATEFUL_IMAGE.test(svc.image) && !svc.build) {
      problems.push(`colored service "${s}" runs ${svc.image}, which keeps data: each color would get its own copy. Move "${s}" to CALMSWAP_SHARED.`)
    }
    for (const v of svc.volumes ?? []) {
      if (v.type !== 'volume' || !v.source) continue
      const top = m.volumes?.[v.source]
      const perProject = !top?.external && (!top?.name || top.name === `${m.name ?? projectName(c, color)}_${v.source}`)
      if (perProject) {
        problems.push(
          `colored service "${s}" mounts named volume "${v.source}", which Compose would create once per color (${projectName(c, 'blue')}_${v.source} and ${projectName(c, 'green')}_${v.source}): the data would fork. Give the volume a fixed name (volumes: ${v.source}: name: ${c.prefix}_${v.source}), mark it external, or move the service to CALMSWAP_SHARED.`,
        )
      }
    }
  }

  for (const s of roles.web) {
    const svc = m.services[s]
    if (!svc) continue
    const port = String(c.ports[color])
    const published = (svc.ports ?? []).some((p) => String(p.published) === port)
    const hostNet = svc.network_mode === 'host' && Object.values(svc.environment ?? {}).includes(port)
    if (!published && !hostNet) {
      problems.push(
        `web service "${s}" does not publish \${${c.portVar}}: with ${c.portVar}=${port} it publishes ${(svc.ports ?? []).map((p) => p.published).join(', ') || 'nothing'}. Use ports: ["127.0.0.1:\${${c.portVar}}:<container port>"].`,
      )
    }
  }
  return problems
}
