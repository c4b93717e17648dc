// Reads a callback's Server-Sent Events stream as a device's EventSource would, until the first
// message of a kind: shared by the tests over a listening server and the lab tests.

/** The first SSE message of `kind` on a callback's stream (the device's EventSource). */
export async function firstSseEvent(
  base: string,
  id: string,
  kind: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new Error(`no ${kind} event within ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    const res = await fetch(`${base}/genesys/1/service/${id}/events`, {
      headers: { accept: 'text/event-stream' },
      signal: ac.signal,
    });
    if (res.status !== 200 || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      buf += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const lines = block.split('\n');
        const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
        const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
        if (event === kind && data !== undefined)
          return JSON.parse(data) as Record<string, unknown>;
      }
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}
