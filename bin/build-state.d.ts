/** Whether `dist/` holds a build of the current sources (see build-state.js). */
export function buildIsFresh(): boolean;
/** Whether the `dialback` bin runs `dist/`: a fresh build, unless DIALBACK_FROM_SOURCE is set. */
export function runsBuild(): boolean;
/** Stamps the build just made. */
export function stampBuild(): void;
