// The simulated day's progress: redrawn in place on a terminal, one line per tenth elsewhere.

import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { progressTo } from '../../src/simulate/progress';

function sink(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }; text(): string } {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  stream.isTTY = isTTY;
  let out = '';
  stream.on('data', (b: Buffer) => (out += b.toString()));
  return { stream, text: () => out };
}

/** 2,000 updates from 0 to 1, as a long run reports twice a second. */
function run(p: ReturnType<typeof progressTo>): void {
  for (let i = 0; i <= 2000; i++) p.update(i / 2000, { created: i * 50, open: i % 7 });
  p.done();
}

describe('simulate progress', () => {
  it('writes one line per tenth of the run when the stream is not a terminal', () => {
    const s = sink(false);
    run(progressTo(s.stream));
    const lines = s.text().split('\n');
    assert.equal(lines.pop(), '', 'every line is ended');
    assert.deepEqual(
      lines.map((l) => l.trim().split(' ')[0]),
      ['0', '10', '20', '30', '40', '50', '60', '70', '80', '90', '100'],
    );
    assert.ok(!s.text().includes('\r'));
    assert.match(lines[10], /100 % {2}created 100000, open \d/);
  });

  it('redraws the bar in place on a terminal and ends its line when done', () => {
    const s = sink(true);
    run(progressTo(s.stream));
    const text = s.text();
    assert.equal(text.split('\r').length - 1, 2001);
    assert.ok(text.endsWith('\n'));
    assert.equal(text.split('\n').length, 2, 'a single line');
    assert.match(text, /\[#{30}\] 100 %/);
  });

  it('writes nothing at the end of a run that never reported, on a terminal', () => {
    const s = sink(true);
    progressTo(s.stream).done();
    assert.equal(s.text(), '');
  });
});
