import t from 'tap';
import { fuzzVirtqueues } from '../scripts/fuzz-virtqueue';

t.test('fixed-seed virtqueue fuzz run: no crashes', async (t) => {
  const r = await fuzzVirtqueues(1500, 20261124);
  t.equal(r.crashes, 0, r.firstCrash ?? 'no crash');
});
