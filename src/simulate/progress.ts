// Progress of a simulated day. On a terminal a bar is redrawn in place; anywhere else (a log
// file, a pipe, CI) a carriage return does not go back, so each redraw would pile onto one
// endless line: there, a line is written at each tenth of the run instead.

export interface ProgressInfo {
  created: number;
  open: number;
}

export interface Progress {
  update(fraction: number, info: ProgressInfo): void;
  /** Ends the bar's line (on a terminal) once the run is over. */
  done(): void;
}

const WIDTH = 30;

const clamp = (fraction: number): number => Math.min(1, Math.max(0, fraction));

export function progressTo(stream: NodeJS.WritableStream & { isTTY?: boolean }): Progress {
  if (stream.isTTY) {
    let drawn = false;
    return {
      update(fraction, info) {
        const f = clamp(fraction);
        const filled = Math.round(f * WIDTH);
        stream.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.floor(f * 100)).padStart(3)} %` +
            `  created ${info.created}, open ${info.open}   `,
        );
        drawn = true;
      },
      done() {
        if (drawn) stream.write('\n');
      },
    };
  }
  let lastTenth = -1;
  return {
    update(fraction, info) {
      const tenth = Math.floor(clamp(fraction) * 10);
      if (tenth <= lastTenth) return;
      lastTenth = tenth;
      stream.write(
        `${String(tenth * 10).padStart(3)} %  created ${info.created}, open ${info.open}\n`,
      );
    },
    done() {},
  };
}
