// Every command calmswap runs, built in one place as data (lib/command.ts): the argv, the
// Engine API call where there is one, the deadline and the effect. Nothing here runs anything.
export * from './compose.ts'
export * from './containers.ts'
export * from './exec.ts'
export * from './git.ts'
export * from './images.ts'
export * from './reads.ts'
export * from './swarm.ts'
