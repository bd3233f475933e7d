// Checks everything a deploy depends on, and prints the exact fix for each problem.

import { createServer } from 'node:net'
import { dirname } from 'node:path'
import { composeV1Version, composeVersion } from '../builders/compose.ts'
import { dockerVersion } from '../builders/reads.ts'
import { type Check, check, stateChecks } from '../checks.ts'
import { COLORS, type Config } from '../config.ts'
import type { Ctx } from '../context.ts'
import { CommandError } from '../errors.ts'
import type { Inventory } from '../inventory.ts'
import { readPressure } from '../pressure.ts'
import { proxyCheck, proxyDriver } from '../proxy/index.ts'
import { type ComposeModel, checkContract, readComposeModel } from './contract.ts'
import { plainProjectProblems } from './plain.ts'
import { proxyContainer } from './traffic.ts'
import { logProblem } from './watch.ts'

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })

export async function doctor(ctx: Ctx): Promise<Check[]> {
  const c = ctx.config
  const docker = await engineCheck(ctx)
  const compose = await composeCheck(ctx)
  const checks = [docker, compose, ...settingsChecks(c)]
  // The project's checks ask the engine and Compose; without either they could only repeat its failure.
  if (docker.ok && compose.ok) {
    checks.push(...(await contractChecks(ctx)), await sharedCheck(ctx))
    const proxy = await proxyConfigCheck(ctx)
    if (proxy) checks.push(proxy)
  }
  const inv = docker.ok ? await ctx.inventory() : null
  checks.push(...(await portChecks(c, inv)))
  checks.push(...stateChecks(c.stateDir, 'deploy, rollback or cleanup'))
  if (c.watch.ms > 0 || c.canary.steps.length) checks.push(watchCheck(c, inv))
  checks.push(pressureCheck())
  return checks
}

async function engineCheck(ctx: Ctx): Promise<Check> {
  const info = await ctx.run(dockerVersion(ctx.config))
  const ok = info.code === 0
  return check(
    'docker',
    ok,
    ok ? `server ${info.stdout.trim()}` : ((info.stderr || info.stdout).trim().split('\n').at(-1) ?? 'no answer'),
    'start it: `make docker` (Debian: installs docker.io and starts dockerd), or `sudo systemctl start docker`; check DOCKER_HOST',
  )
}

async function composeCheck(ctx: Ctx): Promise<Check> {
  const v2 = await ctx.run(composeVersion(ctx.config))
  // v1 is asked only to name what is installed instead, so the fix can say why it will not do.
  const v1 = v2.code === 0 ? null : await ctx.run(composeV1Version())
  return check(
    'compose v2',
    v2.code === 0,
    v2.code === 0 ? `docker compose ${v2.stdout.trim()}` : v1?.code === 0 ? `only Compose v1 (docker-compose ${v1.stdout.trim()}) is installed` : 'no `docker compose` plugin',
    'calmswap needs the v2 CLI plugin (`docker compose config --format json`, `--no-deps` per project); v1 cannot do either. `make docker` installs the v2 plugin from Debian trixie into /usr/local/lib/docker/cli-plugins/ without touching apt sources',
  )
}

/** The settings that shape a deploy's behaviour, stated so a surprise shows before the first deploy. */
function settingsChecks(c: Config): Check[] {
  const checks = [check('config', true, `prefix ${c.prefix}, ports ${c.ports.blue}/${c.ports.green}, ${c.pauseMode} mode, proxy ${c.proxy.mode}`)]
  if (c.proxy.kind === 'nginx')
    checks.push(
      check(
        'nginx switch',
        true,
        c.proxy.nginxSwitch === 'flag'
          ? `flag: the conf reads live-<color> in ${dirname(c.proxy.upstreamFile)} on each request (proxy_pass http://$calmswap_live); deploys, rollbacks and recover reload nothing, a canary's weights do`
          : 'reload: each switch runs `nginx -s reload`, which closes idle kept-alive connections (a POST sent on one as it closes fails); for none, CALMSWAP_NGINX_SWITCH=flag with the flag lines and `proxy_pass http://$calmswap_live` of example/nginx/nginx.conf (docs/proxy.md)',
      ),
    )
  checks.push(
    check(
      'release jobs',
      true,
      c.roles.jobs.length
        ? `${c.roles.jobs.join(' → ')}: each once per deploy, in the new color, before its web starts (deadline ${c.jobTimeoutMs / 1000}s); they must stay backward compatible (README: migrations)`
        : 'none (CALMSWAP_JOBS): a migration service among CALMSWAP_CORE would start beside the new web, not before it',
    ),
  )
  return checks
}

/** The compose contract, then the plain projects, which need the model the contract read. */
async function contractChecks(ctx: Ctx): Promise<Check[]> {
  const c = ctx.config
  const model = await readComposeModel(ctx).catch((e: Error) => e)
  if (model instanceof Error) return [contractUnreadable(c, model)]
  return [contractCheck(c, model), await plainProjectsCheck(ctx, model)]
}

function contractCheck(c: Config, model: ComposeModel): Check {
  try {
    const problems = checkContract(c, model)
    return check(
      'compose contract',
      problems.length === 0,
      problems.length ? problems.join('\n') : `${c.composeFile}: roles exist, ${c.portVar} is published, stateful services stay shared`,
      'see each line above',
    )
  } catch (e) {
    return contractUnreadable(c, e as Error)
  }
}

const contractUnreadable = (c: Config, e: Error): Check =>
  check('compose contract', false, e instanceof CommandError ? e.stderr.trim() : e.message, `fix ${c.composeFile} until \`docker compose -f ${c.composeFile} config\` passes`)

async function plainProjectsCheck(ctx: Ctx, model: ComposeModel): Promise<Check> {
  const problems = await plainProjectProblems(ctx, model).catch((e: Error) => [`could not look for one: ${e.message}`])
  return check('plain projects', problems.length === 0, problems.length ? problems.join('\n') : 'no other project runs these services', 'see each line above')
}

async function sharedCheck(ctx: Ctx): Promise<Check> {
  const c = ctx.config
  const inv = await ctx.inventory()
  const dup = COLORS.flatMap((col) => inv.containers(col, c.roles.shared).map((x) => x.name))
  return check(
    'shared not duplicated',
    dup.length === 0,
    dup.length ? `shared services running inside a color: ${dup.join(', ')}` : 'no shared service runs inside a color',
    `remove them: docker rm -f ${dup.join(' ')} (colored \`up\` calls use --no-deps, so only a manual \`docker compose up\` without -p can create these)`,
  )
}

/** The proxy's own config test (nginx -t, caddy validate); null when its driver has none to run. */
async function proxyConfigCheck(ctx: Ctx): Promise<Check | null> {
  const c = ctx.config
  const proxy = await proxyContainer(ctx)
  const cmd = proxyCheck(c, proxy)
  const name = proxyDriver(c).checkName
  if (c.proxy.inContainer && !proxy) return check(name, true, 'proxy container not running yet: it starts with the first deploy')
  if (!cmd) return null
  const r = await ctx.run(cmd)
  return check(
    name,
    r.code === 0,
    (r.stderr || r.stdout).trim().split('\n').at(-1) ?? '',
    c.proxy.kind === 'caddy'
      ? `make \`${name} --config ${c.proxy.caddyConfig}\` pass; import ${c.proxy.upstreamFile} in its site block (docs/proxy.md)`
      : c.proxy.mode === 'host'
        ? `make ${c.proxy.nginx} -t pass; include ${c.proxy.upstreamFile} in its http block`
        : `fix the nginx config, then: docker exec ${proxy} nginx -t`,
  )
}

/** Each port calmswap publishes: free, or already held by calmswap's own service for it. */
async function portChecks(c: Config, inv: Inventory | null): Promise<Check[]> {
  const wanted: [string, number, boolean][] = COLORS.map((col) => [`${col} web`, c.ports[col], Boolean(inv?.runningServices(col, c.roles.web).length)])
  if (c.proxy.url) {
    const u = new URL(c.proxy.url)
    wanted.push(['proxy', Number(u.port || (u.protocol === 'https:' ? 443 : 80)), Boolean(inv?.runningServices('shared', [c.proxy.service]).length)])
  }
  const checks: Check[] = []
  for (const [what, port, ours] of wanted) {
    const free = await portFree(port)
    checks.push(
      check(
        `port ${port}`,
        free || ours,
        free ? `free for ${what}` : ours ? `in use by calmswap's ${what}` : 'in use by something else',
        `find it with \`ss -ltnp 'sport = :${port}'\`, stop it, or pick another port (CALMSWAP_BLUE_PORT / CALMSWAP_GREEN_PORT / CALMSWAP_PROXY_URL)`,
      ),
    )
  }
  return checks
}

// The watch reads the proxy's JSON log; nginx creates the file when it starts, even before it logs to it.
function watchCheck(c: Config, inv: Inventory | null): Check {
  const nginx = c.proxy.mode === 'host' || c.proxy.mode === 'caddy-host' || (c.proxy.inContainer && Boolean(inv?.runningServices('shared', [c.proxy.service]).length))
  const problem = logProblem(c.watch.log)
  const seen = problem === ''
  return check(
    'watch',
    seen || (!nginx && !problem),
    seen
      ? `${c.watch.ms / 1000}s after each switch, judged on ${c.watch.log} and the new color's containers`
      : problem
        ? `${problem}: the watch would judge the containers only`
        : nginx
          ? `no proxy log at ${c.watch.log}: the watch would judge the containers only`
          : `the proxy is not running yet${c.proxy.inContainer ? '' : ` (proxy ${c.proxy.mode}): the watch judges the containers only`}`,
    problem
      ? `remove it (nginx makes the file when it starts), and find out what put it there: the proxy's container writes that folder`
      : `log each request as JSON there (README: Proxy, the calmswap_json log_format), or point CALMSWAP_PROXY_LOG at your own; CALMSWAP_WATCH=0 turns the watch off`,
  )
}

function pressureCheck(): Check {
  const p = readPressure()
  return check('cpu pressure', true, p.source === 'psi' ? `PSI available, some avg10 ${p.value}%` : `no PSI in this kernel: calm-waits use the load average (${p.value}% of cores)`)
}
