// Differential test of the software CPU against the host CPU: SSE and x87 groups.
import { runDiffGroups } from './diff/tap-groups';

runDiffGroups(['sse-int', 'sse-fp', 'x87']);
