// Which driver runs the proxy of a config (CALMSWAP_PROXY), and the two that drive none of
// their own: a user's command (it gets the nginx upstream file and the color), and none.
import type { Cmd } from '../command.ts'
import type { Config } from '../config.ts'
import { caddy } from './caddy.ts'
import type { ProxyCommands, ProxyDriver } from './driver.ts'
import { nginx } from './nginx.ts'
import { traefik } from './traefik.ts'

export type { LoggedRequest, ProxyCommands, ProxyDriver, Route } from './driver.ts'

/** CALMSWAP_PROXY=command: the nginx upstream file is written, then the user's command switches. */
const command: ProxyDriver = {
  ...nginx,
  kind: 'command',
  checkName: 'the switch command',
  // The user's proxy may not read $calmswap_log: the file is not rewritten to turn logging off.
  logs: false,
  commands: (c, color) => ({
    test: null,
    reload: {
      argv: c.proxy.command,
      env: { CALMSWAP_COLOR: color, CALMSWAP_PORT: String(c.ports[color]), CALMSWAP_UPSTREAM_FILE: c.proxy.upstreamFile },
      mutates: true,
      timeoutMs: c.proxy.commandTimeoutMs,
    },
  }),
  check: () => null,
}

/** CALMSWAP_PROXY=none: the file is written for whoever reads it; nothing runs. */
const none: ProxyDriver = { ...nginx, kind: 'none', checkName: 'none', logs: false, commands: () => null, check: () => null }

const DRIVERS = { nginx, caddy, traefik, command, none } as const

export const proxyDriver = (c: Config): ProxyDriver => DRIVERS[c.proxy.kind]

/**
 * How to make the proxy read a new file, per mode; null when nothing runs (proxy=none,
 * Traefik's watched file, or a proxy container that does not run yet).
 */
export const proxyCommands = (c: Config, color: Parameters<ProxyDriver['commands']>[1], container: string | undefined): ProxyCommands | null =>
  proxyDriver(c).commands(c, color, container)

/** The proxy's own check of its config as it is, for doctor. */
export const proxyCheck = (c: Config, container: string | undefined): Cmd | null => proxyDriver(c).check(c, container)
