// A request's path as the watch compares it, on the ground floor: the config refuses a probe
// path that is the health path, and the watch leaves out exactly the health request.

/**
 * A request's path as a server tells one resource from another: no query or fragment, the
 * percent-escapes of unreserved characters decoded (RFC 3986: the same URI), the others in
 * upper case, duplicate slashes merged (nginx's merge_slashes), dot segments resolved.
 */
export function normalPath(uri: string): string {
  const raw = uri.split(/[?#]/, 1)[0]!
  if (!raw.startsWith('/')) return raw
  const decoded = raw.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
    const ch = String.fromCharCode(Number.parseInt(hex, 16))
    return /^[A-Za-z0-9._~-]$/.test(ch) ? ch : m.toUpperCase()
  })
  const segments = decoded
    .replace(/\/{2,}/g, '/')
    .split('/')
    .slice(1)
  const out: string[] = []
  segments.forEach((s, i) => {
    if (s === '..') out.pop()
    if (s !== '.' && s !== '..') out.push(s)
    // "/a/.." names the folder: "/".
    else if (i === segments.length - 1) out.push('')
  })
  return `/${out.join('/')}`
}

const healthCache = new Map<string, ReadonlySet<string>>()
/** The health check's path, normalized, and its twin with or without the trailing slash. */
function healthPaths(path: string): ReadonlySet<string> {
  let set = healthCache.get(path)
  if (!set) {
    const p = normalPath(path)
    const twin = p === '/' ? p : p.endsWith('/') ? p.slice(0, -1) : `${p}/`
    set = new Set([p, twin])
    healthCache.set(path, set)
  }
  return set
}

/** Whether a logged request is the health check itself: its path, not a prefix of it. */
export const isHealthRequest = (uri: string, healthPath: string): boolean => healthPaths(healthPath).has(normalPath(uri))
