// Who runs an operation, as the lock and history name them: user@host.
import { hostname, userInfo } from 'node:os'

export function safe<T>(f: () => T, d: T): T {
  try {
    return f()
  } catch {
    return d
  }
}
export const whoami = () => `${safe(() => userInfo().username, 'unknown')}@${hostname()}`
