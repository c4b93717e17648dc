// Re-records test/fixtures/ari/*.json from the running lab (npm run lab:up first):
// npx tsx scripts/lab/record-ari-fixtures.ts [scenario...]   (default: all)
// Each fixture holds the raw ARI websocket events and the REST exchanges of one real call, for
// the ARI adapter's unit tests (a fake Asterisk replaying them). DIALBACK_FIXTURE_APP_ONLY=1
// records with subscribeAll=false (what an app sees of its own channels only), suffix -app-only.
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

interface LabState {
  ari: { url: string; eventsUrl: string; username: string; password: string; app: string };
  phones: Record<string, { ctrlPort: number | null; recording: string | null }>;
}
interface AriEvent {
  type: string;
  channel?: { id: string };
  args?: string[];
  cause?: number;
  cause_txt?: string;
}
interface RestExchange {
  method: string;
  path: string;
  status: number;
  body: unknown;
}
interface MinimalWs {
  on(event: 'message', cb: (data: Buffer) => void): void;
  on(event: 'open', cb: () => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  close(): void;
}

// ws ships no types here and this script is not worth a dependency change
const WebSocket = createRequire(__filename)('ws') as new (url: string) => MinimalWs;

const labDir = process.env.DIALBACK_LAB_DIR ?? join(homedir(), '.cache/dialback-lab/run');
const state = JSON.parse(readFileSync(join(labDir, 'lab-state.json'), 'utf8')) as LabState;
const outDir = join(__dirname, '../../test/fixtures/ari');
const appOnly = process.env.DIALBACK_FIXTURE_APP_ONLY === '1';
const base = `${state.ari.url}/ari`;
const auth =
  'Basic ' + Buffer.from(`${state.ari.username}:${state.ari.password}`).toString('base64');

let events: AriEvent[] = [];
let rest: RestExchange[] = [];
let version = '';
const waiters: { pred: (e: AriEvent) => boolean; resolve: (e: AriEvent) => void }[] = [];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function call(method: string, path: string, record = true): Promise<RestExchange> {
  const res = await fetch(base + path, { method, headers: { Authorization: auth } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (an error text): keep it as it came
  }
  const exchange = { method, path, status: res.status, body };
  if (record) rest.push(exchange);
  return exchange;
}

function waitFor(pred: (e: AriEvent) => boolean, ms: number, what: string): Promise<AriEvent> {
  const hit = events.find(pred);
  if (hit) return Promise.resolve(hit);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${what}`)), ms);
    waiters.push({
      pred,
      resolve: (e) => {
        clearTimeout(timer);
        resolve(e);
      },
    });
  });
}

// baresip ctrl_tcp: netstring-framed JSON commands
function phoneCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const json = JSON.stringify({ command, token: 'fixture' });
    let answer = '';
    socket.on('connect', () => socket.write(`${Buffer.byteLength(json)}:${json},`));
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.includes('"response"')) {
        socket.end();
        resolve(answer);
      }
    });
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, 2000);
  });
}

function save(name: string, notes: string): void {
  const file = join(outDir, `${name}${appOnly ? '-app-only' : ''}.json`);
  const scope = appOnly
    ? ' Recorded with subscribeAll=false (plus, for failures, a channel subscription right after the originate): the app sees nothing before StasisStart, no ChannelDestroyed once a channel has left it, and a channel that dies before the subscription (busy: 486 in ~1 ms) yields no event at all (the subscription answers 422; GET /channels/{id} 404).'
    : ' Recorded with subscribeAll=true: pre-Stasis events (Dial, ChannelStateChange, Newexten-like ChannelDialplan, ChannelVarset) are included.';
  const fixture = {
    scenario: name,
    notes: notes + scope,
    asterisk: version,
    subscribeAll: !appOnly,
    rest,
    events,
  };
  writeFileSync(file, JSON.stringify(fixture, null, 2) + '\n');
  console.log(`wrote ${file}: ${events.map((e) => e.type).join(', ')}`);
  events = [];
  rest = [];
}

const destroyed = (id: string) => (e: AriEvent) =>
  e.type === 'ChannelDestroyed' && e.channel?.id === id;
const stasisStart = (id: string) => (e: AriEvent) =>
  e.type === 'StasisStart' && e.channel?.id === id;
const stasisEnd = (id: string) => (e: AriEvent) => e.type === 'StasisEnd' && e.channel?.id === id;

async function amdScenario(name: string, phone: string, talkMs: number, notes: string) {
  const id = `fixture-${name}`;
  const caller = encodeURIComponent('"dialback" <5551000>');
  await call(
    'POST',
    `/channels?endpoint=PJSIP/${phone}&context=dialback-amd&extension=s&priority=1&timeout=30&callerId=${caller}&channelId=${id}`,
  );
  const started = Date.now();
  const start = await waitFor(stasisStart(id), 15000, `${name} StasisStart`);
  console.log(
    `${name}: StasisStart args ${start.args?.join(',')} after ${Date.now() - started} ms`,
  );
  await call('GET', `/channels/${id}`);
  await sleep(talkMs);
  await call('DELETE', `/channels/${id}?reason_code=16`);
  // with subscribeAll=false the channel has left the app: no ChannelDestroyed comes
  await waitFor(appOnly ? stasisEnd(id) : destroyed(id), 5000, `${name} end`);
  await sleep(300);
  save(name, notes);
}

async function failScenario(
  name: string,
  phone: string,
  timeoutS: number,
  notes: string,
): Promise<void> {
  const id = `fixture-${name}`;
  await call(
    'POST',
    `/channels?endpoint=PJSIP/${phone}&context=dialback-amd&extension=s&priority=1&timeout=${timeoutS}&channelId=${id}`,
  );
  if (appOnly) {
    await call('POST', `/applications/${state.ari.app}/subscription?eventSource=channel:${id}`);
    await sleep(timeoutS * 1000 + 2000);
  } else {
    const end = await waitFor(destroyed(id), timeoutS * 1000 + 35000, `${name} destroyed`);
    console.log(`${name}: ChannelDestroyed cause ${end.cause} ${end.cause_txt}`);
  }
  await call('GET', `/channels/${id}`);
  await sleep(300);
  save(name, notes);
}

async function bridgeScenario(): Promise<void> {
  const customer = 'fixture-bridge-customer';
  const agent = 'fixture-bridge-agent';
  const bridge = 'fixture-bridge';
  const recording = state.phones.agent1.recording;
  if (recording) rmSync(recording, { force: true });
  await call(
    'POST',
    `/channels?endpoint=PJSIP/customer-human&context=dialback-amd&extension=s&priority=1&timeout=30&channelId=${customer}`,
  );
  await waitFor(stasisStart(customer), 15000, 'customer StasisStart');
  const verdictAt = Date.now();
  await call(
    'POST',
    `/channels?endpoint=PJSIP/agent1&app=${state.ari.app}&appArgs=agent&timeout=20&channelId=${agent}`,
  );
  await call('POST', `/bridges?type=mixing&bridgeId=${bridge}&name=fixture`);
  await waitFor(stasisStart(agent), 10000, 'agent StasisStart');
  await call('POST', `/bridges/${bridge}/addChannel?channel=${customer},${agent}`);
  for (const id of [customer, agent]) {
    await waitFor(
      (e) => e.type === 'ChannelEnteredBridge' && e.channel?.id === id,
      5000,
      `${id} in bridge`,
    );
  }
  console.log(`bridge: both legs bridged ${Date.now() - verdictAt} ms after the verdict`);
  await call('GET', `/bridges/${bridge}`);
  await sleep(7000);
  const port = state.phones['customer-human'].ctrlPort;
  if (port === null) throw new Error('customer-human has no ctrl port');
  await phoneCommand(port, 'hangup');
  await waitFor(appOnly ? stasisEnd(customer) : destroyed(customer), 5000, 'customer hung up');
  await call('DELETE', `/channels/${agent}`);
  await waitFor(appOnly ? stasisEnd(agent) : destroyed(agent), 5000, 'agent hung up');
  await call('DELETE', `/bridges/${bridge}`);
  await sleep(500);
  save(
    'bridge',
    'Customer PJSIP/customer-human via dialback-amd (HUMAN), agent PJSIP/agent1 originated straight into the app (appArgs agent), one mixing bridge, both added; after 7 s the customer hangs up from the phone (baresip ctrl_tcp "hangup"), then the app hangs up the agent and deletes the bridge.',
  );
  console.log(`agent1 heard the customer: check with  sox ${recording} -n stat`);
}

const scenarios: Record<string, () => Promise<void>> = {
  human: () =>
    amdScenario(
      'human',
      'customer-human',
      1000,
      'Originate PJSIP/customer-human into dialback-amd,s,1; baresip answers with "Hello?" + 1.5 s silence; AMD says HUMAN; StasisStart args [amd, HUMAN, cause]; the app then hangs up (DELETE /channels/{id}?reason_code=16).',
    ),
  machine: () =>
    amdScenario(
      'machine',
      'customer-machine',
      500,
      'Originate PJSIP/customer-machine (a long voicemail greeting) into dialback-amd; AMD says MACHINE; the app hangs up.',
    ),
  silent: () =>
    amdScenario(
      'silent',
      'customer-silent',
      500,
      'Originate PJSIP/customer-silent (answers, sends silence) into dialback-amd; AMD says MACHINE with cause INITIALSILENCE; the app hangs up.',
    ),
  busy: () =>
    failScenario(
      'busy',
      'customer-busy',
      30,
      'Originate PJSIP/customer-busy (SIPp answering 486 Busy Here) into dialback-amd; the channel is destroyed with cause 17 within milliseconds; GET /channels/{id} then answers 404.',
    ),
  absent: () =>
    failScenario(
      'absent',
      'customer-absent',
      8,
      'Originate PJSIP/customer-absent (no phone on the contact port) with timeout=8 s; UDP gives no answer, so the channel is destroyed (cause 19) when the originate timeout expires.',
    ),
  noanswer: () =>
    failScenario(
      'noanswer',
      'agent-noanswer',
      6,
      'Originate PJSIP/agent-noanswer (baresip answermode=manual: 180 Ringing, never answers) with timeout=6 s; the channel is destroyed (cause 19) when the originate timeout expires.',
    ),
  bridge: bridgeScenario,
};

async function main(): Promise<void> {
  const chosen = process.argv.slice(2);
  for (const name of chosen) {
    if (!(name in scenarios))
      throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(' ')}`);
  }
  const info = await call('GET', '/asterisk/info', false);
  version = (info.body as { system: { version: string } }).system.version;
  const url = `${state.ari.eventsUrl}?app=${state.ari.app}&subscribeAll=${!appOnly}&api_key=${state.ari.username}:${state.ari.password}`;
  const ws = new WebSocket(url);
  ws.on('message', (data) => {
    const event = JSON.parse(data.toString()) as AriEvent;
    events.push(event);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].pred(event)) {
        waiters[i].resolve(event);
        waiters.splice(i, 1);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  await sleep(300);
  events = [];
  for (const name of chosen.length ? chosen : Object.keys(scenarios)) await scenarios[name]();
  ws.close();
}

main().catch((err: unknown) => {
  console.error('record-ari-fixtures FAILED:', err);
  process.exit(1);
});
