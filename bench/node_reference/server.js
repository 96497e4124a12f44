// The Node reference the load tool (bench/load) measures our server against: socket.io from npm with the
// same socket path, handshake (auth.token), events (presence, performance-update, team-performance-update)
// and rooms (user:, team:, managers:) as server/gateway.py, and the HTTP endpoints the tool uses. Everything is
// kept in memory: it stands for what the original Node design cost, not for a second implementation.
//
//   node server.js --port 0 --roster roster.json   # roster: {token: {user_id, team_id, device_id, role, name}}
"use strict";

const fs = require("fs");
const http = require("http");
const { Server } = require("socket.io");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (i % 2 ? pairs : [...pairs, [arg.replace(/^--/, ""), all[i + 1]]]), [])
);
const roster = JSON.parse(fs.readFileSync(args.roster, "utf8"));
const GRACE_MS = 60000; // --offline-grace 60, as our default
const MAX_BODY = 512 * 1024;
const REPORTED = new Set(["active", "break", "idle", "paused", "away"]); // protocol/schema.py ReportedState

const sockets = new Map(); // device_id -> socket id (one socket per device)
const reported = new Map(); // device_id -> {state, since, seq}
const shown = new Map(); // user_id -> {state, since}
const offlineTimers = new Map(); // user_id -> timer
const batches = new Set(); // device_id:batch_id
const slots = new Map(); // device_id:start -> slot

function showUser(who, now) {
  // One device per user in the bench, as ours computes it: connected → its reported state (active if none).
  const connected = sockets.has(who.device_id);
  const report = reported.get(who.device_id);
  const state = connected ? (report ? report.state : "active") : "offline";
  const since = report && connected ? report.since : now;
  const before = shown.get(who.user_id);
  // Unchanged, or only a guessed "since" moved (no report, or offline): not news, as in server/presence.py.
  if (before && before.state === state && (before.since === since || !report || !connected)) return;
  shown.set(who.user_id, { state, since });
  io.to(`team:${who.team_id}`).emit("presence", { user_id: who.user_id, name: who.name, state, since });
}

function readJson(req, res, then) {
  let size = 0;
  const chunks = [];
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      fail(res, 413, "too_large", "body", `request body exceeds ${MAX_BODY} bytes`);
      req.destroy();
    } else chunks.push(chunk);
  });
  req.on("end", () => {
    if (size > MAX_BODY) return;
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (e) {
      return fail(res, 400, "bad_json", "body", "body is not JSON");
    }
    then(body);
  });
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function fail(res, status, code, field, message) {
  send(res, status, { error: { code, field, message } });
}

function caller(req) {
  const [scheme, token] = (req.headers.authorization || "").split(" ");
  return scheme && scheme.toLowerCase() === "bearer" ? roster[token] : undefined;
}

function putPresence(req, res, who) {
  readJson(req, res, (body) => {
    if (!REPORTED.has(body.state)) return fail(res, 422, "invalid", "state", "state: not a reported state");
    if (!Number.isInteger(body.seq) || body.seq < 0) return fail(res, 422, "invalid", "seq", "seq: not an integer");
    const since = new Date(body.since);
    if (isNaN(since)) return fail(res, 422, "invalid", "since", "since: not a date");
    const before = reported.get(who.device_id);
    const applied = !before || body.seq > before.seq;
    if (applied) reported.set(who.device_id, { state: body.state, since: since.toISOString(), seq: body.seq });
    showUser(who, new Date().toISOString());
    const now = reported.get(who.device_id);
    send(res, 200, { applied, state: now.state, since: now.since });
  });
}

function postActivity(req, res, who) {
  readJson(req, res, (body) => {
    if (typeof body.batch_id !== "string") return fail(res, 422, "invalid", "batch_id", "batch_id: missing");
    if (!Array.isArray(body.slots) || body.slots.length < 1 || body.slots.length > 1440)
      return fail(res, 422, "invalid", "slots", "slots: 1 to 1440 minutes");
    const key = `${who.device_id}:${body.batch_id}`;
    if (batches.has(key)) return send(res, 200, { accepted: 0, duplicates: body.slots.length });
    batches.add(key);
    let accepted = 0;
    const days = new Set();
    for (const slot of body.slots) {
      const slotKey = `${who.device_id}:${slot.start}`;
      if (slots.has(slotKey)) continue;
      slots.set(slotKey, slot);
      accepted += 1;
      days.add(String(slot.start).slice(0, 10));
    }
    for (const day of days) {
      const totals = { tracked_s: 0, active_s: 0, idle_s: 0, break_s: 0, input_s: 0, keys: 0, clicks: 0, scrolls: 0, mouse_px: 0 };
      for (const [slotKey, slot] of slots) {
        if (!slotKey.startsWith(`${who.device_id}:${day}`)) continue;
        for (const name of Object.keys(totals)) totals[name] += slot[name] || 0;
      }
      totals.activity_pct = totals.active_s ? Math.round((1000 * totals.input_s) / totals.active_s) / 10 : 0;
      const payload = { user_id: who.user_id, date: day, totals };
      io.to(`user:${who.user_id}`).emit("performance-update", payload);
      io.to(`managers:${who.team_id}`).emit("team-performance-update", payload);
    }
    send(res, 200, { accepted, duplicates: body.slots.length - accepted });
  });
}

const server = http.createServer((req, res) => {
  if (req.url === "/healthz" && req.method === "GET")
    return send(res, 200, { status: "ok", version: "node-reference", database: true, sockets: sockets.size });
  const routes = { "PUT /api/v1/presence": putPresence, "POST /api/v1/activity": postActivity };
  const route = routes[`${req.method} ${req.url}`];
  if (!route) return fail(res, 404, "not_found", null, "no such endpoint");
  const who = caller(req);
  if (!who) return fail(res, 401, "unauthorized", null, "unknown token: enroll this device again");
  route(req, res, who);
});

const io = new Server(server, {
  path: "/api/socket",
  pingInterval: 20000,
  pingTimeout: 20000,
  maxHttpBufferSize: 64 * 1024,
  serveClient: false,
});

io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (typeof token !== "string") return next(new Error("missing token: connect with auth={'token': '<device token>'}"));
  const who = roster[token];
  if (!who) return next(new Error("unknown token: enroll this device again"));
  socket.data.who = who;
  next();
});

io.on("connection", (socket) => {
  const who = socket.data.who;
  const previous = sockets.get(who.device_id);
  sockets.set(who.device_id, socket.id);
  if (previous && previous !== socket.id) io.in(previous).disconnectSockets(true);
  clearTimeout(offlineTimers.get(who.user_id));
  socket.join([`user:${who.user_id}`, `team:${who.team_id}`, ...(who.role === "member" ? [] : [`managers:${who.team_id}`])]);
  showUser(who, new Date().toISOString());
  socket.on("disconnect", () => {
    if (sockets.get(who.device_id) !== socket.id) return;
    sockets.delete(who.device_id);
    offlineTimers.set(who.user_id, setTimeout(() => showUser(who, new Date().toISOString()), GRACE_MS));
  });
});

server.listen(Number(args.port || 0), "127.0.0.1", () => {
  process.stdout.write(`StaffPulse node reference listening on http://127.0.0.1:${server.address().port} (socket.io at /api/socket)\n`);
});

process.on("SIGINT", () => {
  io.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
});
