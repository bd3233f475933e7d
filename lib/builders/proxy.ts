// The proxy's commands are built by its driver (lib/proxy/: nginx, Caddy, Traefik, a command),
// each beside what it renders and parses; this re-exports the two every caller needs.
export { type ProxyCommands, proxyCheck, proxyCommands } from '../proxy/index.ts'
