// The @coze/api side of the coze-js driver (harness/drivers/coze_js): runs flows with the real,
// unmodified SDK and reports what it observed.
//
//   node runner.mjs SDK_DIR
//
// SDK_DIR holds node_modules/@coze/api (an npm --prefix folder). The protocol is JSON lines:
// the first line written is a hello ({"hello": {...}} with the SDK's version and method kinds, or
// {"fatal": "..."} and exit 1); then for each flow request read on stdin (one JSON object a line)
// exactly one observation is written on stdout. After a flow that ran out of time the runner exits
// (its SDK calls may still be running, and the next flow must not share the process with them).
// stdout carries the protocol only: console output of the SDK goes to stderr.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const write = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
// Exit once what was written has reached the pipe (process.exit alone may cut it off).
const exitAfter = (value, code) => process.stdout.write(`${JSON.stringify(value)}\n`, () => process.exit(code));
for (const name of ['log', 'info', 'debug', 'warn', 'error', 'trace']) {
  console[name] = (...args) => process.stderr.write(`${format(...args)}\n`);
}

const METHODS = [
  'chat.create',
  'chat.stream',
  'chat.createAndPoll',
  'chat.retrieve',
  'chat.submitToolOutputs',
  'chat.messages.list',
  'workflows.runs.create',
  'workflows.runs.stream',
  'workflows.runs.resume',
  'workflows.runs.history',
  'workflows.chat.stream',
  'websockets.chat.create',
];

const HISTORY_POLLS = 100;
const HISTORY_POLL_MS = 20;

const SURFACES = ['chat', 'workflows.runs', 'workflows.chat', 'workflows'];

function methodNames(resource) {
  const names = new Set();
  for (let level = resource; level && level !== Object.prototype; level = Object.getPrototypeOf(level)) {
    for (const name of Object.getOwnPropertyNames(level)) {
      if (name === 'constructor' || name.startsWith('_')) continue;
      const descriptor = Object.getOwnPropertyDescriptor(level, name);
      if (descriptor && typeof descriptor.value === 'function') names.add(name);
    }
  }
  return [...names].sort();
}

// stdin as a queue of lines: flow requests, and the host's tool outputs while a flow waits for them.
const pending = [];
const waiting = [];
let stdinClosed = false;
function nextLine() {
  if (pending.length) return Promise.resolve(pending.shift());
  if (stdinClosed) return Promise.resolve(null);
  return new Promise((resolve) => waiting.push(resolve));
}
function listen() {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    if (waiting.length) waiting.shift()(line);
    else pending.push(line);
  });
  lines.on('close', () => {
    stdinClosed = true;
    while (waiting.length) waiting.shift()(null);
  });
}

function entryOf(pkg) {
  const exported = pkg.exports;
  let relative;
  if (typeof exported === 'string') relative = exported;
  else if (exported && exported['.']) {
    const dot = exported['.'];
    relative = typeof dot === 'string' ? dot : dot.import || dot.default || dot.require;
  }
  return relative || pkg.module || pkg.main || 'index.js';
}

// The CommonJS entry: what `require('@coze/api')` loads.
function requireEntryOf(pkg) {
  const dot = pkg.exports && typeof pkg.exports === 'object' ? pkg.exports['.'] : undefined;
  const relative = dot && typeof dot === 'object' ? dot.require || dot.default : undefined;
  return relative || pkg.main || 'index.js';
}

function lookup(root, dotted) {
  let owner;
  let value = root;
  for (const part of dotted.split('.')) {
    if (value === null || value === undefined) return [undefined, undefined];
    owner = value;
    value = value[part];
  }
  return [owner, value];
}

function kindOf(fn) {
  if (typeof fn !== 'function') return 'absent';
  const name = fn.constructor && fn.constructor.name;
  if (name === 'AsyncGeneratorFunction') return 'async-generator';
  if (name === 'AsyncFunction') return 'async-function';
  if (name === 'GeneratorFunction') return 'generator';
  return 'function';
}

function jsonSafe(value, depth = 0) {
  if (value === undefined) return null;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (depth > 12) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => jsonSafe(item, depth + 1));
  if (typeof value === 'object') {
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = jsonSafe(item, depth + 1);
    return out;
  }
  return String(value);
}

function describeError(error) {
  if (error === null || typeof error !== 'object') {
    return { type: typeof error, message: String(error), code: null, status: null };
  }
  const number = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : null);
  return {
    type: error.constructor ? error.constructor.name : 'Error',
    message: String(error.message),
    code: number(error.code),
    status: number(error.status),
  };
}

class TimedOut extends Error {}

// One flow's record: what the SDK was asked, what it gave back, in order.
class Observer {
  constructor(request) {
    this.request = request;
    this.started = performance.now();
    this.events = [];
    this.calls = [];
    this.errors = [];
    this.toolRounds = [];
    this.result = null;
    this.lastEventAt = null;
    this.controller = new AbortController();
  }

  options() {
    return { signal: this.controller.signal };
  }

  call(method) {
    const entry = { method, returned: 'pending', events: 0, value: null, seconds: 0 };
    entry.started = performance.now();
    this.calls.push(entry);
    return this.calls.length - 1;
  }

  settle(index, returned, value) {
    const entry = this.calls[index];
    entry.returned = returned;
    if (value !== undefined) entry.value = jsonSafe(value);
    entry.seconds = (performance.now() - entry.started) / 1000;
  }

  event(index, name, data, id) {
    this.events.push({ name: String(name), data: jsonSafe(data), id: id === undefined ? null : jsonSafe(id), call: index });
    this.calls[index].events += 1;
    this.lastEventAt = performance.now();
  }

  fail(error) {
    this.errors.push(describeError(error));
  }
}

// Calls an SDK method that may return a stream (an async iterable) or a value, and records either.
// Returns the events it read (empty for a value), and whether it was a stream.
async function drain(observer, method, thunk) {
  const index = observer.call(method);
  let returned;
  try {
    returned = thunk();
    if (returned && typeof returned.then === 'function') returned = await returned;
  } catch (error) {
    observer.settle(index, 'raised');
    throw error;
  }
  const iterable = returned && typeof returned[Symbol.asyncIterator] === 'function';
  if (!iterable) {
    observer.settle(index, 'value', returned);
    return { stream: false, value: returned, events: [] };
  }
  const events = [];
  try {
    for await (const item of returned) {
      const name = item && item.event !== undefined ? item.event : '(no event name)';
      observer.event(index, name, item ? item.data : item, item ? item.id : undefined);
      events.push(item);
    }
  } catch (error) {
    observer.settle(index, 'raised');
    throw error;
  }
  observer.settle(index, 'stream');
  return { stream: true, value: undefined, events };
}

// An async generator function called with stream:false hands its value back as the return value of
// its first next() (coze-js submitToolOutputs): read that, as a caller of such a release has to.
async function generatorValue(observer, method, thunk) {
  const index = observer.call(method);
  try {
    let returned = thunk();
    if (returned && typeof returned.next === 'function' && typeof returned[Symbol.asyncIterator] === 'function') {
      const first = await returned.next();
      observer.settle(index, first.done ? 'value' : 'stream', first.value);
      return first.value;
    }
    if (returned && typeof returned.then === 'function') returned = await returned;
    observer.settle(index, 'value', returned);
    return returned;
  } catch (error) {
    observer.settle(index, 'raised');
    throw error;
  }
}

// The outputs of one round, submitted to the chat that paused, read as the stream the SDK hands back.
function submitStreaming(client, observer, chat, outputs) {
  return drain(observer, 'chat.submitToolOutputs', () =>
    client.chat.submitToolOutputs(
      { conversation_id: chat.conversation_id, chat_id: chat.id, tool_outputs: outputs, stream: true },
      observer.options(),
    ),
  );
}

const userMessage = (text) => [{ role: 'user', content: text, content_type: 'text', type: 'question' }];

function toolCallsOf(chat) {
  const calls = chat && chat.required_action && chat.required_action.submit_tool_outputs;
  return calls && Array.isArray(calls.tool_calls) ? calls.tool_calls : [];
}

// The outputs for one round of tool calls: the host's local code answers them (request.host_tools:
// a {"tool_calls"} line out, a {"tool_outputs": {id: output}} line back), else the request's canned
// answers by tool name.
async function outputsFor(request, calls, round) {
  const seen = calls.map((call) => ({
    id: String(call && call.id),
    name: String(call && call.function ? call.function.name : undefined),
    arguments: jsonSafe(call && call.function ? call.function.arguments : undefined),
  }));
  if (!seen.length) throw new Error('the chat paused for tool calls, and the SDK handed over none');
  let answers = {};
  if (request.host_tools) {
    write({ tool_calls: seen, round });
    const line = await nextLine();
    if (line === null) throw new Error('the host closed stdin while tool outputs were awaited');
    const reply = JSON.parse(line);
    if (!reply || typeof reply.tool_outputs !== 'object') throw new Error(`the host answered ${line.slice(0, 200)}`);
    answers = reply.tool_outputs;
  } else {
    for (const call of seen) {
      answers[call.id] = Object.prototype.hasOwnProperty.call(request.tool_outputs, call.name)
        ? request.tool_outputs[call.name]
        : `no local tool named ${call.name}`;
    }
  }
  const outputs = calls.map((call, index) => ({ tool_call_id: call.id, output: String(answers[seen[index].id] ?? '') }));
  return { seen, outputs, round };
}

function answerOfChatEvents(events) {
  const completed = events.filter(
    (e) => e.event === 'conversation.message.completed' && e.data && e.data.type === 'answer',
  );
  if (completed.length) return completed.map((e) => String(e.data.content ?? '')).join('');
  return events
    .filter((e) => e.event === 'conversation.message.delta' && e.data && e.data.type === 'answer')
    .map((e) => String(e.data.content ?? ''))
    .join('');
}

const FLOWS = {
  // Bot chat streamed, answering requires_action with submitToolOutputs (streaming), round after
  // round, as coze-js's local-plugin example does.
  async 'chat-stream'(client, request, observer) {
    let { events } = await drain(observer, 'chat.stream', () =>
      client.chat.stream(
        { bot_id: request.bot_id, user_id: request.user_id, additional_messages: userMessage(request.message) },
        observer.options(),
      ),
    );
    let answer = answerOfChatEvents(events);
    for (let round = 0; round < request.max_rounds; round += 1) {
      const action = events.find((e) => e.event === 'conversation.chat.requires_action');
      if (!action) break;
      const chat = action.data;
      const { seen, outputs } = await outputsFor(request, toolCallsOf(chat), round);
      observer.toolRounds.push(seen);
      if (typeof client.chat.submitToolOutputs !== 'function') break;
      ({ events } = await submitStreaming(client, observer, chat, outputs));
      answer = answerOfChatEvents(events) || answer;
    }
    const terminal = observer.events.filter((e) => e.name.startsWith('conversation.chat.')).pop();
    observer.result = { status: terminal && terminal.data ? terminal.data.status ?? null : null, answer };
  },

  // Bot chat not streamed: createAndPoll; requires_action answered with submitToolOutputs
  // (stream: false), then polled again with retrieve and read with messages.list.
  async 'chat-poll'(client, request, observer) {
    const first = await drain(observer, 'chat.createAndPoll', () =>
      client.chat.createAndPoll(
        { bot_id: request.bot_id, user_id: request.user_id, additional_messages: userMessage(request.message) },
        observer.options(),
      ),
    );
    let { chat, messages } = first.value || {};
    for (let round = 0; round < request.max_rounds && chat && chat.status === 'requires_action'; round += 1) {
      const { seen, outputs } = await outputsFor(request, toolCallsOf(chat), round);
      observer.toolRounds.push(seen);
      if (typeof client.chat.submitToolOutputs !== 'function') break;
      await generatorValue(observer, 'chat.submitToolOutputs', () =>
        client.chat.submitToolOutputs(
          { conversation_id: chat.conversation_id, chat_id: chat.id, tool_outputs: outputs, stream: false },
          observer.options(),
        ),
      );
      const deadline = performance.now() + request.timeout_seconds * 1000;
      for (;;) {
        const polled = await drain(observer, 'chat.retrieve', () =>
          client.chat.retrieve(chat.conversation_id, chat.id, observer.options()),
        );
        chat = polled.value;
        if (!chat || ['completed', 'failed', 'requires_action', 'canceled'].includes(chat.status)) break;
        if (performance.now() > deadline) throw new TimedOut('the chat did not finish while polled');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      messages = (
        await drain(observer, 'chat.messages.list', () =>
          client.chat.messages.list(chat.conversation_id, chat.id, observer.options()),
        )
      ).value;
    }
    const list = Array.isArray(messages) ? messages : [];
    const answer = list
      .filter((m) => m && m.type === 'answer')
      .map((m) => String(m.content ?? ''))
      .join('');
    observer.result = { status: chat ? chat.status ?? null : null, answer, messages: jsonSafe(list) };
  },

  async 'workflow-run'(client, request, observer) {
    const { value } = await drain(observer, 'workflows.runs.create', () =>
      client.workflows.runs.create(
        { workflow_id: request.workflow_id, parameters: request.parameters },
        observer.options(),
      ),
    );
    observer.result = { data: jsonSafe(value && value.data !== undefined ? value.data : value) };
  },

  // An async run, read back from its run history until it is no longer Running (polls bounded by the flow's
  // time limit): whether this release reads the history the platform sends, not only whether it asks.
  async 'workflow-history'(client, request, observer) {
    const runs = client.workflows.runs;
    if (typeof runs.history !== 'function') {
      observer.result = { absent: 'workflows.runs.history' };
      return;
    }
    const { value: started } = await drain(observer, 'workflows.runs.create', () =>
      runs.create(
        { workflow_id: request.workflow_id, parameters: request.parameters, is_async: true },
        observer.options(),
      ),
    );
    const executeId = started && started.execute_id;
    let history = null;
    for (let poll = 0; poll < HISTORY_POLLS; poll += 1) {
      if (poll) await new Promise((resolve) => setTimeout(resolve, HISTORY_POLL_MS));
      const { value } = await drain(observer, 'workflows.runs.history', () =>
        runs.history(request.workflow_id, executeId, observer.options()),
      );
      history = Array.isArray(value) ? value[0] : value;
      if (!history || history.execute_status !== 'Running') break;
    }
    observer.result = {
      execute_status: history ? history.execute_status ?? null : null,
      error_code: history ? jsonSafe(history.error_code) : null,
      output: history ? jsonSafe(history.output) : null,
    };
  },

  async 'workflow-stream'(client, request, observer) {
    const { events } = await drain(observer, 'workflows.runs.stream', () =>
      client.workflows.runs.stream(
        { workflow_id: request.workflow_id, parameters: request.parameters },
        observer.options(),
      ),
    );
    observer.result = { answer: workflowAnswer(events) };
  },

  // Stream to an Interrupt, resume with the next answer, as often as interrupts come.
  async 'workflow-resume'(client, request, observer) {
    let { events } = await drain(observer, 'workflows.runs.stream', () =>
      client.workflows.runs.stream(
        { workflow_id: request.workflow_id, parameters: request.parameters },
        observer.options(),
      ),
    );
    let answer = workflowAnswer(events);
    const resumed = [];
    for (const resumeData of request.resume_data) {
      const interrupt = events.find((e) => e.event === 'Interrupt');
      if (!interrupt || !interrupt.data || !interrupt.data.interrupt_data) break;
      const data = interrupt.data.interrupt_data;
      const outcome = await drain(observer, 'workflows.runs.resume', () =>
        client.workflows.runs.resume(
          {
            workflow_id: request.workflow_id,
            event_id: data.event_id,
            resume_data: resumeData,
            interrupt_type: data.type,
          },
          observer.options(),
        ),
      );
      resumed.push(outcome.stream ? 'stream' : 'value');
      events = outcome.events;
      answer = outcome.stream ? workflowAnswer(events) : ''; // a value: kept in calls[].value as the SDK gave it
    }
    observer.result = { answer, resumed };
  },

  // A chatflow: a pause with tool calls is answered with chat.submitToolOutputs (streaming), a pause
  // without (a question node) by the next message on the same conversation (request.resume_data, in
  // order), as the platform's docs describe; the turns go on until neither applies.
  async chatflow(client, request, observer) {
    if (!client.workflows.chat || typeof client.workflows.chat.stream !== 'function') {
      observer.result = { answer: '', absent: 'workflows.chat.stream' };
      return;
    }
    const turn = (message, conversationId) =>
      drain(observer, 'workflows.chat.stream', () =>
        client.workflows.chat.stream(
          {
            workflow_id: request.workflow_id,
            additional_messages: userMessage(message),
            parameters: request.parameters,
            ...(conversationId ? { conversation_id: conversationId } : {}),
          },
          observer.options(),
        ),
      );
    let { events } = await turn(request.message);
    let answer = answerOfChatEvents(events);
    const answers = [...request.resume_data];
    for (let round = 0; round < request.max_rounds; round += 1) {
      const action = events.find((e) => e.event === 'conversation.chat.requires_action');
      if (!action || !action.data) break;
      const chat = action.data;
      const calls = toolCallsOf(chat);
      if (calls.length) {
        const { seen, outputs } = await outputsFor(request, calls, round);
        observer.toolRounds.push(seen);
        if (typeof client.chat.submitToolOutputs !== 'function') break;
        ({ events } = await submitStreaming(client, observer, chat, outputs));
      } else if (answers.length) {
        ({ events } = await turn(answers.shift(), chat.conversation_id));
      } else {
        break;
      }
      answer = answerOfChatEvents(events) || answer;
    }
    const terminal = observer.events.filter((e) => e.name.startsWith('conversation.chat.')).pop();
    observer.result = { status: terminal && terminal.data ? terminal.data.status ?? null : null, answer };
  },

  // submitToolOutputs (stream: false) on a chat named by id, whatever state it is in: how the platform
  // answers a submit where it sent no tool call (a platform without the endpoint answers 404).
  async 'chat-submit'(client, request, observer) {
    if (typeof client.chat.submitToolOutputs !== 'function') {
      observer.result = { absent: 'chat.submitToolOutputs' };
      return;
    }
    const value = await generatorValue(observer, 'chat.submitToolOutputs', () =>
      client.chat.submitToolOutputs(
        {
          conversation_id: request.conversation_id,
          chat_id: request.chat_id,
          tool_outputs: [{ tool_call_id: '0', output: '' }],
          stream: false,
        },
        observer.options(),
      ),
    );
    observer.result = { status: value && value.status !== undefined ? value.status : null };
  },
};
// The bridge flow is a workflow stream whose http node calls the bridge named in its parameters.
FLOWS['workflow-bridge'] = FLOWS['workflow-stream'];

// Bot chat over a websocket (websockets.chat.create, Node's `ws` underneath): send the user's
// message, answer conversation.chat.requires_action with conversation.chat.submit_tool_outputs on the
// same socket, until the chat completes or fails (or an error event arrives); then close.
FLOWS['websocket-chat'] = async (client, request, observer) => {
  const create = client.websockets && client.websockets.chat && client.websockets.chat.create;
  if (typeof create !== 'function') {
    observer.result = { answer: '', absent: 'websockets.chat.create' };
    return;
  }
  // The signature changed: create(botId) up to 1.1.x, create({ bot_id, ... }) from 1.2.0; read which
  // one this release declares (its first parameter's name) and call it that way.
  const positional = /^[^(]*\(\s*botId\b/.test(Function.prototype.toString.call(create));
  const index = observer.call(positional ? 'websockets.chat.create(botId)' : 'websockets.chat.create({bot_id})');
  const inbox = [];
  let wake = null;
  let closed = null;
  let socket;
  try {
    socket = await (positional
      ? client.websockets.chat.create(request.bot_id)
      : client.websockets.chat.create({ bot_id: request.bot_id }));
  } catch (error) {
    observer.settle(index, 'raised');
    throw error;
  }
  socket.onmessage = (message) => {
    inbox.push(message);
    if (wake) wake();
  };
  socket.onclose = (event) => {
    closed = { code: event && event.code, reason: event && event.reason ? String(event.reason) : '' };
    inbox.push(null);
    if (wake) wake();
  };
  // the SDK reports a failed connection as an error message of its own shape ({event_type: 'error', ...})
  socket.onerror = (error) => {
    inbox.push(error && error.event_type ? error : { event_type: 'error', data: jsonSafe(error) });
    if (wake) wake();
  };
  const next = async () => {
    while (!inbox.length) await new Promise((resolve) => (wake = resolve));
    wake = null;
    return inbox.shift();
  };
  const send = (event_type, data) => socket.send({ id: String(observer.calls.length), event_type, data });
  const events = [];
  let rounds = 0;
  let status = null;
  try {
    for (;;) {
      const message = await next();
      if (message === null) break;
      observer.event(index, message.event_type, message.data, message.id);
      events.push({ event: message.event_type, data: message.data });
      const name = message.event_type;
      if (name === 'chat.created') {
        send('conversation.message.create', { role: 'user', content_type: 'text', content: request.message });
      } else if (name === 'conversation.chat.requires_action' && rounds < request.max_rounds) {
        const { seen, outputs } = await outputsFor(request, toolCallsOf(message.data), rounds);
        observer.toolRounds.push(seen);
        rounds += 1;
        send('conversation.chat.submit_tool_outputs', { chat_id: message.data.id, tool_outputs: outputs });
      } else if (['conversation.chat.completed', 'conversation.chat.failed', 'error'].includes(name)) {
        status = message.data && message.data.status ? message.data.status : name;
        break;
      }
    }
  } finally {
    socket.close();
  }
  observer.settle(index, 'stream');
  observer.result = { status, answer: answerOfChatEvents(events), closed_by_server: jsonSafe(closed) };
};

function workflowAnswer(events) {
  return events
    .filter((e) => e.event === 'Message' && e.data)
    .map((e) => String(e.data.content ?? ''))
    .join('');
}

async function runFlow(sdk, pkg, request) {
  const observer = new Observer(request);
  const flow = FLOWS[request.flow];
  let timedOut = false;
  let timer;
  try {
    if (!flow) throw new Error(`unknown flow ${request.flow}; choose from ${Object.keys(FLOWS).join(', ')}`);
    const config = { token: request.token, baseURL: request.base_url };
    if (request.ws_base_url) config.baseWsURL = request.ws_base_url;
    const client = new sdk.CozeAPI(config);
    const limit = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new TimedOut(`the flow did not end within ${request.timeout_seconds} s`)), request.timeout_seconds * 1000);
    });
    await Promise.race([flow(client, request, observer), limit]);
  } catch (error) {
    if (error instanceof TimedOut) {
      timedOut = true;
      observer.controller.abort();
    }
    observer.fail(error);
  } finally {
    clearTimeout(timer);
  }
  const now = performance.now();
  for (const entry of observer.calls) {
    if (entry.returned === 'pending') {
      entry.returned = timedOut ? 'timeout' : 'raised';
      entry.seconds = (now - entry.started) / 1000;
    }
    delete entry.started;
  }
  return {
    sdk: 'coze-js',
    sdk_version: pkg.version,
    flow: request.flow,
    events: observer.events,
    calls: observer.calls,
    tool_rounds: observer.toolRounds,
    result: jsonSafe(observer.result),
    errors: observer.errors,
    timed_out: timedOut,
    seconds: (now - observer.started) / 1000,
    seconds_after_last_event: observer.lastEventAt === null ? null : (now - observer.lastEventAt) / 1000,
  };
}

async function main() {
  const sdkDir = process.argv[2];
  let sdk;
  let pkg;
  let loading = null;
  try {
    if (!sdkDir) throw new Error('usage: node runner.mjs SDK_DIR');
    const pkgDir = path.join(path.resolve(sdkDir), 'node_modules', '@coze', 'api');
    pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    const entry = path.join(pkgDir, entryOf(pkg));
    if (existsSync(entry)) {
      sdk = await import(pathToFileURL(entry).href);
    } else {
      // a release whose package points `import` at a file it does not ship (1.1.1): an ES module caller
      // cannot load it at all; a CommonJS caller can, through `require`, which is what runs here, said so
      loading = `the package's import entry ${entryOf(pkg)} is missing from the release, so \`import '@coze/api'\` fails; loaded with require (its CommonJS entry)`;
      sdk = createRequire(path.join(pkgDir, 'package.json'))(path.join(pkgDir, requireEntryOf(pkg)));
    }
    if (typeof sdk.CozeAPI !== 'function') throw new Error(`${pkgDir} exports no CozeAPI`);
  } catch (error) {
    exitAfter({ fatal: `cannot load @coze/api from ${sdkDir}: ${error && error.message}` }, 1);
    return;
  }
  const probe = new sdk.CozeAPI({ token: 'probe', baseURL: 'http://127.0.0.1:9' });
  const methods = {};
  for (const name of METHODS) methods[name] = kindOf(lookup(probe, name)[1]);
  // and every other method these resources offer (own or inherited, not Object's), so a judge can
  // look for any way to hand back a tool's output, not only the ones listed above
  for (const owner of SURFACES) {
    const resource = lookup(probe, owner)[1];
    for (const name of methodNames(resource)) {
      const dotted = `${owner}.${name}`;
      if (!(dotted in methods)) methods[dotted] = kindOf(resource[name]);
    }
  }
  write({ hello: { sdk: 'coze-js', sdk_version: pkg.version, node_version: process.versions.node, methods, loading } });

  listen();
  for (;;) {
    const line = await nextLine();
    if (line === null) break;
    let request;
    try {
      request = JSON.parse(line);
    } catch (error) {
      exitAfter({ fatal: `not a JSON line: ${error.message}` }, 1);
      return;
    }
    const observation = await runFlow(sdk, pkg, request);
    observation.methods = methods;
    if (observation.timed_out) {
      exitAfter(observation, 0);
      return;
    }
    write(observation);
  }
  process.stdout.write('', () => process.exit(0));
}

main();
