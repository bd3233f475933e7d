// The proxy: how nginx is reloaded and checked, in a container or on the host, or a command of the operator's.
import type { Cmd } from '../command.ts'
import type { Color, Config } from '../config.ts'
import { DEADLINE } from '../deadlines.ts'
import { dockerExec } from './reads.ts'

/** sysexits' EX_DATAERR: nginx itself exits 1 for any failure, so this one says "the check". */
const NGINX_REJECTED = 65

export interface ProxyCommands {
  /** Checks the new config before the reload; null when there is no check, or `reload` makes it. */
  readonly test: Cmd | null
  readonly reload: Cmd
  /** The exit code of a `reload` that checked first: the check failed and nothing reloaded. */
  readonly rejected?: number
}

/**
 * How to make the proxy read a new upstream file, per mode; null for proxy=none.
 * `container` is the running nginx container of the shared project (proxy=container).
 */
export function proxyCommands(c: Config, color: Color, container: string | undefined): ProxyCommands | null {
  switch (c.proxy.mode) {
    case 'container':
      if (!container) return null
      // Check and reload in one exec: each exec is a runc start beside the booting release,
      // and the reload runs only when the check passed.
      return { test: null, reload: dockerExec(c, container, ['sh', '-c', `nginx -t || exit ${NGINX_REJECTED}; exec nginx -s reload`], true), rejected: NGINX_REJECTED }
    case 'host':
      return {
        // `mutates`, for the check too: it belongs to the switch (it reads the file just
        // written), so a dry run prints it with the write instead of testing the old file.
        test: { argv: [c.proxy.nginx, '-t'], mutates: true, timeoutMs: DEADLINE.proxy },
        reload: { argv: [c.proxy.nginx, '-s', 'reload'], mutates: true, timeoutMs: DEADLINE.proxy },
      }
    case 'command':
      return {
        test: null,
        reload: {
          argv: c.proxy.command,
          env: { CALMSWAP_COLOR: color, CALMSWAP_PORT: String(c.ports[color]), CALMSWAP_UPSTREAM_FILE: c.proxy.upstreamFile },
          mutates: true,
          timeoutMs: c.proxy.commandTimeoutMs,
        },
      }
    case 'none':
      return null
  }
}

/** `nginx -t` of the proxy as it is, for doctor. */
export const proxyCheck = (c: Config, container: string | undefined): Cmd | null =>
  c.proxy.mode === 'container' && container
    ? dockerExec(c, container, ['nginx', '-t'], false)
    : c.proxy.mode === 'host'
      ? { argv: [c.proxy.nginx, '-t'], mutates: false, timeoutMs: DEADLINE.proxy }
      : null
