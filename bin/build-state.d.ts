/** Whether `dist/` holds a build of the current sources (see build-state.js). */
export function buildIsFresh(): boolean;
/** Stamps the build just made. */
export function stampBuild(): void;
