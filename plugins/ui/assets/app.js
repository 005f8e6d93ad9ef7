// The dashboard: signs in with an API token (kept for this tab only), follows GET /ui/events for
// live states, and drives the REST API. Every failure shows the daemon's own words.
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
let token = sessionStorage.getItem('jinad-token') ?? '';
let events; // AbortController of the live stream
let logFollow; // AbortController of the log being followed

/** The daemon's message from an error body ({detail: string | [{msg}]}). */
function detailOf(body, status) {
  const d = body?.detail;
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) return d.map((x) => (typeof x === 'string' ? x : x.msg ?? JSON.stringify(x))).join('; ');
  return `HTTP ${status}`;
}
function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}

/** Call the API with the token; throws Error(daemon's message) on a non-2xx answer. */
async function api(method, path, body) {
  const init = { method, headers: { authorization: `Bearer ${token}` } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  if (!res.ok) throw Object.assign(new Error(detailOf(json, res.status)), { status: res.status });
  return json;
}
/** Run an action; show what went wrong, or clear the last error. */
async function act(fn) {
  try {
    await fn();
    showError('');
  } catch (err) {
    showError(err.message);
  }
}

async function signIn(candidate) {
  const res = await fetch('/workspaces', { headers: { authorization: `Bearer ${candidate}` } });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(res.status === 401 ? `That token is not valid: ${detailOf(body, res.status)}` : detailOf(body, res.status));
  }
  token = candidate;
  sessionStorage.setItem('jinad-token', token);
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  $('who').textContent = 'signed in';
  follow();
  loadDeployments();
}
function signOut() {
  events?.abort();
  logFollow?.abort();
  token = '';
  sessionStorage.removeItem('jinad-token');
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signout').hidden = true;
  $('who').textContent = '';
}

/** The pieces of a streamed answer, split at `separator`, as they arrive. */
async function* pieces(res, separator) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let end;
    while ((end = buf.indexOf(separator)) >= 0) {
      yield buf.slice(0, end);
      buf = buf.slice(end + separator.length);
    }
  }
}
/** A streamed GET with the token in a header (EventSource cannot send one); throws the daemon's message. */
async function stream(path, signal) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token}` }, signal });
  if (!res.ok) throw new Error(detailOf(await res.json().catch(() => ({})), res.status));
  return res;
}
/** Read an event stream, calling onEvent(name, data). */
async function readEvents(path, signal, onEvent) {
  for await (const block of pieces(await stream(path, signal), '\n\n')) {
    const name = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
    const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
    if (data) onEvent(name, data);
  }
}
function follow() {
  events?.abort();
  events = new AbortController();
  const signal = events.signal;
  readEvents('/ui/events', signal, (name, data) => name === 'snapshot' && render(JSON.parse(data))).catch((err) => {
    if (signal.aborted) return;
    showError(`the live view stopped: ${err.message}; reconnecting`);
    setTimeout(() => !signal.aborted && follow(), 2000);
  });
}

const short = (id) => id.replace(/^(j\w+?-)(\w{8}).*$/, '$1$2…');
/** Redraw a table without losing what the user is typing in it (values and focus survive a live update). */
function redraw(table, html) {
  const values = new Map([...table.querySelectorAll('input[id]')].map((i) => [i.id, i.value]));
  const focused = table.contains(document.activeElement) ? document.activeElement.id : '';
  table.tBodies[0].innerHTML = html;
  for (const [id, value] of values) {
    const el = document.getElementById(id);
    if (el) el.value = value;
  }
  if (focused) document.getElementById(focused)?.focus();
}
function render({ workspaces, objects }) {
  $('workspaces').tBodies[0].innerHTML =
    workspaces
      .map(
        (w) => `<tr data-id="${esc(w.id)}"><td><code title="${esc(w.id)}">${esc(w.id)}</code></td>
      <td><span class="state-${esc(w.state)}">${esc(w.state)}</span>${w.queued ? ` (${w.queued} queued)` : ''}${w.reason ? `<div class="hint">${esc(w.reason)}</div>` : ''}</td>
      <td>${w.objects.length}</td>
      <td class="actions"><div class="actions"><button class="secondary" data-act="build-log" aria-label="Build log of ${esc(w.id)}">Build log</button>
      <button class="danger" data-act="delete-ws" aria-label="Delete ${esc(w.id)}">Delete</button></div></td></tr>`,
      )
      .join('') || '<tr><td colspan="4">No workspace yet.</td></tr>';
  const select = $('flow-ws');
  const chosen = select.value;
  select.innerHTML = workspaces.filter((w) => w.state === 'ACTIVE').map((w) => `<option value="${esc(w.id)}">${esc(short(w.id))}</option>`).join('');
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  redraw(
    $('objects'),
    objects
      .map((o) => {
        const ports = Object.entries(o.ports ?? {}).filter(([k]) => k !== '8000/tcp').map(([k, p]) => `${p}→${k.replace('/tcp', '')}`).join(', ');
        const updates = o.kind === 'flow' || o.kind === 'pod';
        const exec = o.executors[0] ?? '';
        return `<tr data-id="${esc(o.id)}" data-kind="${esc(o.kind)}"><td><code title="${esc(o.id)}">${esc(o.id)}</code><div class="hint">${esc(o.kind)} in ${esc(short(o.workspace))}</div></td>
        <td><span class="status-${esc(o.status)}">${esc(o.status)}</span>${o.last_exit ? `<div class="hint">last stop: ${esc(o.last_exit.reason)}</div>` : ''}${
          // On a Swarm: where each task runs, and how it is doing.
          o.tasks?.length ? `<div class="hint">${o.tasks.map((t) => `${esc(t.node)}: ${esc(t.state)}${t.error ? ` (${esc(t.error)})` : ''}`).join(', ')}</div>` : ''
        }</td>
        <td>${o.restarts ?? 0} <span class="hint">(${esc(o.restart)})</span></td><td>${esc(ports)}</td>
        <td><div class="actions"><button class="secondary" data-act="log" aria-label="Log of ${esc(o.id)}">Log</button>
        ${
          updates
            ? `<label class="sr" for="ex-${esc(o.id)}">Executor of ${esc(o.id)}</label><input id="ex-${esc(o.id)}" data-field="executor" value="${esc(exec)}" aria-label="Executor">
          <label class="sr" for="rep-${esc(o.id)}">Replicas of ${esc(o.id)}</label><input id="rep-${esc(o.id)}" data-field="replicas" type="number" min="1" value="2" aria-label="Replicas">
          <button data-act="scale">Scale</button>
          <label class="sr" for="uw-${esc(o.id)}">uses_with of ${esc(o.id)}</label><input id="uw-${esc(o.id)}" data-field="uses_with" value="{}" aria-label="uses_with (JSON)">
          <button data-act="roll">Rolling update</button>`
            : ''
        }
        <button class="danger" data-act="delete-obj" aria-label="Delete ${esc(o.id)}">Delete</button></div></td></tr>`;
      })
      .join('') || '<tr><td colspan="5">Nothing runs yet.</td></tr>',
  );
  loadDeployments();
}

/** What applying a config deployment now would change, in a line; client-applied ones are planned where their file is. */
async function planOf(d) {
  if (d.source !== 'config') return '<span class="hint">jinad plan, where its file is</span>';
  try {
    const plan = await api('GET', `/deployments/${encodeURIComponent(d.name)}/plan`);
    const changes = plan.changes.filter((c) => c.action !== 'unchanged');
    return plan.pending ? changes.map((c) => `${esc(c.action)} ${esc(c.target)}`).join('<br>') : 'up to date';
  } catch (err) {
    return `<span class="hint">${esc(err.message)}</span>`;
  }
}

async function loadDeployments() {
  let all;
  try {
    all = await api('GET', '/deployments');
  } catch {
    return; // no deployment plugin, or no right to read it
  }
  const rows = await Promise.all(
    Object.values(all).map(
      async (d) => `<tr><td>${esc(d.name)} <span class="hint">(${esc(d.source)})</span></td><td>${esc(d.workspace.state)}</td>
      <td>${Object.entries(d.members).map(([t, m]) => `${esc(t)}: <span class="status-${esc(m.actual)}">${esc(m.actual)}</span>`).join('<br>')}</td>
      <td>${d.drifted ? '<strong>drifted</strong>' : 'none'}</td><td>${await planOf(d)}</td><td>${esc(d.last_error ?? '')}</td></tr>`,
    ),
  );
  $('deployments').tBodies[0].innerHTML = rows.join('') || '<tr><td colspan="6">No deployment.</td></tr>';
}

/** Follow a log: its last lines, then new ones as they come. */
async function showLog(id) {
  logFollow?.abort();
  logFollow = new AbortController();
  const signal = logFollow.signal;
  $('log-panel').hidden = false;
  $('log-title').textContent = `Log of ${id}`;
  const pre = $('log');
  pre.textContent = '';
  try {
    for await (const piece of pieces(await stream(`/logs/${encodeURIComponent(id)}?follow=true&tail=200`, signal), '\n')) {
      const line = piece.trim();
      if (!line) continue; // heartbeat
      const rec = JSON.parse(line);
      pre.textContent += `${(rec.time ?? '').slice(11, 23)} ${rec.type ?? rec.stream ?? ''} ${rec.message ?? rec.error ?? ''}\n`;
      pre.scrollTop = pre.scrollHeight;
    }
  } catch (err) {
    if (!signal.aborted) showError(`the log stopped: ${err.message}`);
  }
}

async function upload(files) {
  if (!files.length) return;
  const form = new FormData();
  for (const f of files) form.append('files', f, f.webkitRelativePath ? f.webkitRelativePath.split('/').slice(1).join('/') : f.name);
  await act(async () => {
    const made = await api('POST', '/workspaces', form);
    showLog(Object.keys(made)[0]); // its build log, live
  });
}

/** Files of a dropped folder, read recursively, with their paths inside it. */
async function droppedFiles(items) {
  const out = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push(new File([file], prefix + file.name));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  const entries = [...items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  // A single dropped folder: its contents are the workspace.
  if (entries.length === 1 && entries[0].isDirectory) {
    const reader = entries[0].createReader();
    for (;;) {
      const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const e of batch) await walk(e, '');
    }
  } else for (const e of entries) await walk(e, '');
  return out;
}

window.addEventListener('DOMContentLoaded', () => {
  $('signin').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await signIn($('token').value.trim());
      showError('');
    } catch (err) {
      showError(err.message);
    }
  });
  $('signout').addEventListener('click', signOut);
  $('pick-files').addEventListener('change', (ev) => upload([...ev.target.files]));
  $('pick-folder').addEventListener('change', (ev) => upload([...ev.target.files]));
  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    upload(ev.dataTransfer.items?.length ? await droppedFiles(ev.dataTransfer.items) : [...ev.dataTransfer.files]);
  });
  $('start-flow').addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(async () => {
      const q = new URLSearchParams({ workspace_id: $('flow-ws').value, filename: $('flow-file').value, restart: $('flow-restart').value });
      for (const line of $('flow-envs').value.split('\n').map((l) => l.trim()).filter(Boolean)) q.append('envs', line);
      const id = await api('POST', `/flows?${q}`);
      showLog(id);
    });
  });
  $('log-close').addEventListener('click', () => {
    logFollow?.abort();
    $('log-panel').hidden = true;
  });
  document.body.addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-act]');
    if (!button) return;
    const row = button.closest('tr');
    const id = row.dataset.id;
    const kind = row.dataset.kind;
    const field = (name) => row.querySelector(`[data-field="${name}"]`)?.value ?? '';
    const podName = () => (kind === 'flow' ? `pod_name=${encodeURIComponent(field('executor'))}&` : '');
    const actions = {
      'build-log': () => showLog(id),
      log: () => showLog(id),
      'delete-ws': () => confirm(`Delete ${id} with everything in it?`) && api('DELETE', `/workspaces/${id}?everything=true`),
      'delete-obj': () => confirm(`Delete ${id}?`) && api('DELETE', `/${kind}s/${id}`),
      scale: () => api('PUT', `/${kind}s/scale/${id}?${podName()}replicas=${encodeURIComponent(field('replicas'))}`),
      roll: () => {
        let usesWith;
        try {
          usesWith = JSON.parse(field('uses_with') || '{}');
        } catch {
          throw new Error('uses_with must be JSON, e.g. {"greeting": "hey"}');
        }
        return api('PUT', `/${kind}s/rolling_update/${id}?${podName()}`, usesWith);
      },
    };
    act(async () => {
      await actions[button.dataset.act]?.();
    });
  });
  if (token) signIn(token).catch(() => signOut());
});
