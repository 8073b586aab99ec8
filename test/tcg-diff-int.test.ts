// Differential test of the software CPU against the host CPU: integer groups.
import { runDiffGroups } from './diff/tap-groups';

runDiffGroups(['alu', 'shift', 'muldiv', 'bitops', 'flow', 'mov', 'atomic', 'string', 'stack', 'segment', 'misc', 'privileged']);
