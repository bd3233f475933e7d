// Checks everything a deploy depends on, and prints the exact fix for each problem.

import { createServer } from 'node:net'
import { dirname } from 'node:path'
import { composeV1Version, composeVersion } from '../builders/compose.ts'
import { engineVersion } from '../builders/reads.ts'
import { type Check, stateChecks } from '../checks.ts'
import { COLORS } from '../config.ts'
import type { Ctx } from '../context.ts'
import { CommandError } from '../errors.ts'
import { readPressure } from '../pressure.ts'
import { proxyCheck, proxyDriver } from '../proxy/index.ts'
import { checkContract, readComposeModel } from './contract.ts'
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
  const checks: Check[] = []
  const add = (name: string, ok: boolean, detail: string, fix?: string) => checks.push({ name, ok, detail, fix: ok ? undefined : fix })

  const info = await ctx.run(engineVersion(c))
  const docker = info.code === 0
  add(
    'docker engine',
    docker,
    docker ? `server ${info.stdout.trim()}` : ((info.stderr || info.stdout).trim().split('\n').at(-1) ?? 'no answer'),
    'start it: `make docker` (Debian: installs docker.io and starts dockerd), or `sudo systemctl start docker`; check DOCKER_HOST',
  )

  const v2 = await ctx.run(composeVersion(c))
  const v1 = v2.code === 0 ? null : await ctx.run(composeV1Version())
  add(
    'compose v2',
    v2.code === 0,
    v2.code === 0 ? `docker compose ${v2.stdout.trim()}` : v1?.code === 0 ? `only Compose v1 (docker-compose ${v1.stdout.trim()}) is installed` : 'no `docker compose` plugin',
    'calmswap needs the v2 CLI plugin (`docker compose config --format json`, `--no-deps` per project); v1 cannot do either. `make docker` installs the v2 plugin from Debian trixie into /usr/local/lib/docker/cli-plugins/ without touching apt sources',
  )

  add('config', true, `prefix ${c.prefix}, ports ${c.ports.blue}/${c.ports.green}, ${c.pauseMode} mode, proxy ${c.proxy.mode}`)
  if (c.proxy.kind === 'nginx')
    add(
      'nginx switch',
      true,
      c.proxy.nginxSwitch === 'flag'
        ? `flag: the conf reads live-<color> in ${dirname(c.proxy.upstreamFile)} on each request (proxy_pass http://$calmswap_live); deploys, rollbacks and recover reload nothing, a canary's weights do`
        : 'reload: each switch runs `nginx -s reload`, which closes idle kept-alive connections (a POST sent on one as it closes fails); for none, CALMSWAP_NGINX_SWITCH=flag with the flag lines and `proxy_pass http://$calmswap_live` of example/nginx/nginx.conf (docs/proxy.md)',
    )
  add(
    'release jobs',
    true,
    c.roles.jobs.length
      ? `${c.roles.jobs.join(' → ')}: each once per deploy, in the new color, before its web starts (deadline ${c.jobTimeoutMs / 1000}s); they must stay backward compatible (README: migrations)`
      : 'none (CALMSWAP_JOBS): a migration service among CALMSWAP_CORE would start beside the new web, not before it',
  )

  if (docker && v2.code === 0) {
    const model = await readComposeModel(ctx).catch((e: Error) => e)
    try {
      if (model instanceof Error) throw model
      const problems = checkContract(c, model)
      add(
        'compose contract',
        problems.length === 0,
        problems.length ? problems.join('\n') : `${c.composeFile}: roles exist, ${c.portVar} is published, stateful services stay shared`,
        'see each line above',
      )
    } catch (e) {
      add(
        'compose contract',
        false,
        e instanceof CommandError ? e.stderr.trim() : (e as Error).message,
        `fix ${c.composeFile} until \`docker compose -f ${c.composeFile} config\` passes`,
      )
    }
    if (!(model instanceof Error)) {
      const problems = await plainProjectProblems(ctx, model).catch((e: Error) => [`could not look for one: ${e.message}`])
      add('plain projects', problems.length === 0, problems.length ? problems.join('\n') : 'no other project runs these services', 'see each line above')
    }
    const inv = await ctx.inventory()
    const dup = COLORS.flatMap((col) => inv.containers(col, c.roles.shared).map((x) => x.name))
    add(
      'shared not duplicated',
      dup.length === 0,
      dup.length ? `shared services running inside a color: ${dup.join(', ')}` : 'no shared service runs inside a color',
      `remove them: docker rm -f ${dup.join(' ')} (colored \`up\` calls use --no-deps, so only a manual \`docker compose up\` without -p can create these)`,
    )

    const proxy = await proxyContainer(ctx)
    const check = proxyCheck(c, proxy)
    const name = proxyDriver(c).checkName
    if (c.proxy.inContainer && !proxy) add(name, true, 'proxy container not running yet: it starts with the first deploy')
    else if (check) {
      const r = await ctx.run(check)
      const caddy = c.proxy.kind === 'caddy'
      add(
        name,
        r.code === 0,
        (r.stderr || r.stdout).trim().split('\n').at(-1) ?? '',
        caddy
          ? `make \`${name} --config ${c.proxy.caddyConfig}\` pass; import ${c.proxy.upstreamFile} in its site block (docs/proxy.md)`
          : c.proxy.mode === 'host'
            ? `make ${c.proxy.nginx} -t pass; include ${c.proxy.upstreamFile} in its http block`
            : `fix the nginx config, then: docker exec ${proxy} nginx -t`,
      )
    }
  }

  const inv = docker ? await ctx.inventory() : null
  const wanted: [string, number, boolean][] = COLORS.map((col) => [`${col} web`, c.ports[col], Boolean(inv?.runningServices(col, c.roles.web).length)])
  if (c.proxy.url) {
    const u = new URL(c.proxy.url)
    wanted.push(['proxy', Number(u.port || (u.protocol === 'https:' ? 443 : 80)), Boolean(inv?.runningServices('shared', [c.proxy.service]).length)])
  }
  for (const [what, port, ours] of wanted) {
    const free = await portFree(port)
    add(
      `port ${port}`,
      free || ours,
      free ? `free for ${what}` : ours ? `in use by calmswap's ${what}` : 'in use by something else',
      `find it with \`ss -ltnp 'sport = :${port}'\`, stop it, or pick another port (CALMSWAP_BLUE_PORT / CALMSWAP_GREEN_PORT / CALMSWAP_PROXY_URL)`,
    )
  }

  checks.push(...stateChecks(c.stateDir, 'deploy, rollback or cleanup'))
  // The watch reads the proxy's JSON log; nginx creates the file when it starts, even before it logs to it.
  if (c.watch.ms > 0 || c.canary.steps.length) {
    const nginx = c.proxy.mode === 'host' || c.proxy.mode === 'caddy-host' || (c.proxy.inContainer && Boolean(inv?.runningServices('shared', [c.proxy.service]).length))
    const problem = logProblem(c.watch.log)
    const seen = problem === ''
    add(
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
  const p = readPressure()
  add('cpu pressure', true, p.source === 'psi' ? `PSI available, some avg10 ${p.value}%` : `no PSI in this kernel: calm-waits use the load average (${p.value}% of cores)`)

  return checks
}
