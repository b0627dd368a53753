// Leadinc chat page: plain JS against the real API (SSE chat, voice, registration funnel, errors).
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const log = $("log"), form = $("composer"), input = $("message"), notice = $("notice");
  const sendBtn = $("send"), recordBtn = $("record"), recordText = $("record-text");
  const uploadBtn = $("upload"), fileInput = $("audio-file"), voiceToggle = $("voice-reply");
  const logoutBtn = $("logout"), loginBtn = $("login"), accountBox = $("account"), accountStatus = $("account-status");
  const MAX_CHARS = 4000, POLL_MS = 700, POLL_LIMIT_MS = 180000, MAX_RECORD_SECONDS = 60;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  class TurnError extends Error {}

  // --- HTTP ---------------------------------------------------------------------------------
  const cookie = (name) => {
    const row = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return row ? row.slice(name.length + 1) : "";
  };
  function api(path, options = {}) {
    const headers = { ...(options.headers || {}) };
    const csrf = cookie("csrftoken");  // double-submit CSRF: echo the cookie in a header
    if (csrf && options.method && options.method !== "GET") headers["X-CSRFToken"] = csrf;
    return fetch(path, { credentials: "same-origin", ...options, headers });
  }

  // A polite Russian explanation of an error response (the API answers {error_code, detail}).
  async function explain(response, what) {
    let body = {};
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    const raw = typeof body.detail === "string" ? body.detail : "";
    const detail = /[а-яё]/i.test(raw) ? raw : "";  // never show technical English to the visitor
    const status = response.status;
    if (status === 429) {
      const wait = Number(response.headers.get("Retry-After")) || 0;
      let text = detail || "Слишком много сообщений подряд.";
      if (wait && !text.includes(String(wait))) text += ` Повторите через ${wait} с.`;
      return wait >= 120 ? text.replace(`${wait} с`, humanWait(wait)) : text;
    }
    if (status === 503) return detail || "Сервис временно недоступен. Попробуйте через минуту.";
    if (status === 413) return what === "audio" ? "Файл слишком большой: пришлите запись до 10 МБ." : "Сообщение слишком длинное.";
    if (status === 415) return detail || "Этот формат не подходит: пришлите mp3, ogg, m4a, webm или wav.";
    if (status === 422 || status === 400) {
      if (body.error_code === "VALIDATION_ERROR" || !detail) {
        return what === "audio" ? "Не получилось прочитать аудиофайл. Попробуйте другой."
          : `Сообщение должно быть от 1 до ${MAX_CHARS} символов.`;
      }
      return detail;
    }
    if (status === 401 || status === 403) return detail || "Нет доступа. Обновите страницу и попробуйте снова.";
    if (status >= 500) return "На сервере что-то пошло не так. Попробуйте ещё раз чуть позже.";
    return detail || `Не получилось (ошибка ${status}). Попробуйте ещё раз.`;
  }

  function humanWait(seconds) {  // 43170 → "11 ч 59 мин", 150 → "3 мин"
    const minutes = Math.ceil(seconds / 60), hours = Math.floor(minutes / 60);
    return hours ? `${hours} ч${minutes % 60 ? ` ${minutes % 60} мин` : ""}` : `${minutes} мин`;
  }

  function showNotice(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  // --- rendering ----------------------------------------------------------------------------
  function node(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }
  const scrollDown = () => { log.scrollTop = log.scrollHeight; };

  function bubble(kind, text) {
    const msg = node("div", `msg msg--${kind}`);
    msg.append(node("span", "visually-hidden", kind === "me" ? "Вы: " : "Лида: "), node("div", "msg__text", text || ""));
    log.appendChild(msg);
    scrollDown();
    return msg;
  }
  function typingBubble() {
    const msg = bubble("bot", "");
    msg.classList.add("msg--typing");
    msg.setAttribute("aria-busy", "true");
    return msg;
  }
  function settle(msg) {
    msg.classList.remove("msg--typing");
    msg.setAttribute("aria-busy", "false");
  }
  const textOf = (msg) => msg.querySelector(".msg__text");

  function renderStage(stage) {
    const bar = $("stages");
    bar.hidden = !stage;
    bar.querySelectorAll("li").forEach((li) => {
      const n = Number(li.dataset.stage);
      const done = n < stage || stage === 3;
      li.classList.toggle("done", done);
      if (n === stage && !done) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });
  }

  function renderSources(msg, sources) {
    const box = node("div", "sources");
    const list = node("ul");
    sources.forEach((s) => {
      const item = node("li", "", s.title);
      item.title = `Статья базы знаний №${s.article_id}`;
      list.appendChild(item);
    });
    box.append(node("h3", "", "Источники:"), list);
    msg.appendChild(box);
  }

  function renderDashboard(msg, dashboard) {
    const figure = node("figure", "dashboard");
    const caption = node("figcaption");
    caption.append(node("small", "", "Аналитика по нише"), document.createTextNode(dashboard.niche));
    const table = node("table");
    table.setAttribute("aria-label", `Аналитика: ${dashboard.niche}`);
    const head = table.createTHead().insertRow();
    dashboard.table.columns.forEach((c) => { const th = node("th", "", String(c)); th.scope = "col"; head.appendChild(th); });
    const body = table.createTBody();
    dashboard.table.rows.forEach((row) => {
      const tr = body.insertRow();
      row.forEach((cell, i) => {
        const td = node(i === 0 ? "th" : "td", "", String(cell));
        if (i === 0) td.scope = "row";
        tr.appendChild(td);
      });
    });
    figure.append(caption, table);
    msg.appendChild(figure);
  }

  function renderChips(msg, labels, label) {
    const chips = node("div", "chips");
    chips.setAttribute("role", "group");
    chips.setAttribute("aria-label", label);
    labels.forEach((name) => {
      const chip = node("button", "", name);
      chip.type = "button";
      chip.addEventListener("click", () => {
        if (busy) return;
        chips.querySelectorAll("button").forEach((b) => { b.disabled = true; });
        send(name);
      });
      chips.appendChild(chip);
    });
    msg.appendChild(chips);
  }

  function renderReply(msg, reply) {
    settle(msg);
    textOf(msg).textContent = reply.reply;
    msg.dataset.scenario = reply.scenario;
    msg.dataset.action = reply.action;
    if (reply.sources && reply.sources.length) renderSources(msg, reply.sources);
    if (reply.dashboard) renderDashboard(msg, reply.dashboard);
    const candidates = (reply.fields && reply.fields.candidates) || [];
    if (candidates.length) renderChips(msg, candidates.slice(0, 12), "Выберите нишу");
    if (reply.scenario === "REGISTRATION" && reply.stage) renderStage(reply.stage);
    if (reply.action === "registered" || reply.action === "logged_in") refreshAccount(true);
    if (reply.audio && reply.audio.status_url) speakLater(msg, reply.audio.status_url);
    if (reply.action === "handoff" || reply.action === "handoff_waiting") watchManager();
    scrollDown();
  }

  // --- handoff to a manager: poll the conversation's new messages about once a second ----------
  const shownManagerIds = new Set();
  let managerWatch = null;
  let lastMessageId = null;

  async function fetchNewMessages() {
    for (;;) {  // page through everything after the last message seen
      const query = lastMessageId ? `?after=${encodeURIComponent(lastMessageId)}&limit=200` : "?limit=200";
      const response = await api(`/ai/messages${query}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const page = await response.json();
      for (const m of page.messages) {
        lastMessageId = m.id;
        if ((m.manager || m.notice) && !shownManagerIds.has(m.id)) {
          shownManagerIds.add(m.id);
          const msg = bubble("bot", m.text);
          msg.dataset.action = m.manager ? "manager" : "handoff_notice";
          settle(msg);
          scrollDown();
        }
      }
      if (page.messages.length < 200) return page.handoff_state;
    }
  }

  // After a reload the conversation so far comes back from the server (text only), and the page
  // keeps listening when a manager is answering.
  async function loadHistory() {
    const response = await api("/ai/messages?limit=200");
    if (!response.ok) return;
    const page = await response.json();
    for (const m of page.messages) {
      lastMessageId = m.id;
      if (m.manager || m.notice) shownManagerIds.add(m.id);
      const msg = bubble(m.role === "user" ? "me" : "bot", m.text);
      msg.classList.add("msg--history");
      if (m.manager) msg.dataset.action = "manager";
    }
    if (page.handoff_state === "waiting" || page.handoff_state === "taken") watchManager();
  }

  function watchManager() {
    if (managerWatch) return;
    const tick = async () => {
      let state = "waiting";
      try { state = await fetchNewMessages(); } catch (_) { /* a network blip: try again next tick */ }
      managerWatch = state === "waiting" || state === "taken" ? setTimeout(tick, 1000) : null;
    };
    managerWatch = setTimeout(tick, 0);
  }

  function addPlayer(msg, url, autoplay) {
    if (msg.querySelector("audio")) return;
    const audio = node("audio");
    audio.controls = true;
    audio.preload = "auto";
    audio.src = url;
    audio.setAttribute("aria-label", "Ответ голосом");
    msg.appendChild(audio);
    scrollDown();
    if (autoplay) audio.play().catch(() => { /* the browser wants a click first: the controls are there */ });
  }

  // --- background tasks (voice) ---------------------------------------------------------------
  async function pollTask(statusUrl, onUpdate) {
    const started = Date.now();
    while (Date.now() - started < POLL_LIMIT_MS) {
      const response = await api(statusUrl);
      if (!response.ok) throw new TurnError(await explain(response, "audio"));
      const task = await response.json();
      onUpdate(task.result || {});
      if (task.status === "done") return task;
      if (task.status === "failed") {
        throw new TurnError((task.error && /[а-яё]/i.test(task.error.detail) && task.error.detail)
          || "Не удалось обработать аудио. Попробуйте ещё раз.");
      }
      await sleep(POLL_MS);
    }
    throw new TurnError("Обработка заняла слишком много времени. Попробуйте ещё раз.");
  }

  async function speakLater(msg, statusUrl) {  // the spoken version of a text reply
    try {
      await pollTask(statusUrl, (result) => { if (result.audio_url) addPlayer(msg, result.audio_url, true); });
    } catch (err) {
      msg.appendChild(node("div", "meta", "Не удалось озвучить ответ."));
    }
  }

  // --- one turn -----------------------------------------------------------------------------
  let busy = false;
  // Enter pressed while a turn is open (a reply can show a moment before its stream closes): the text
  // stays in the box and goes out once the turn has ended with a reply. After a failed turn the
  // visitor reads the notice and decides.
  let sendWhenFree = false;
  function setBusy(on) {
    busy = on;
    sendBtn.disabled = on;
    uploadBtn.disabled = on;
    if (!recorder) recordBtn.disabled = on;
    log.querySelectorAll(".chips button").forEach((b) => { if (on) b.disabled = true; });
  }
  function endTurn(replied) {
    setBusy(false);
    const queued = sendWhenFree;
    sendWhenFree = false;
    if (queued && replied) form.requestSubmit();
  }

  function parseSSE(buffer, onEvent) {
    const blocks = buffer.split(/\r?\n\r?\n/);
    const rest = blocks.pop();
    blocks.forEach((block) => {
      let event = "message", data = "";
      block.split(/\r?\n/).forEach((line) => {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
      });
      if (data) onEvent(event, JSON.parse(data));
    });
    return rest;
  }

  async function send(text) {
    text = (text || "").trim();
    if (!text || busy) return;
    setBusy(true);
    showNotice("");
    const mine = bubble("me", text);
    const msg = typingBubble();
    let replied = false;
    try {
      const response = await api("/ai/chat/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ message: text, voice: voiceToggle.checked, audio_format: "mp3" }),
      });
      if (!response.ok) throw new TurnError(await explain(response, "text"));
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "", streamed = "";
      const onEvent = (event, data) => {
        if (event === "delta") { streamed += data.text; textOf(msg).textContent = streamed; scrollDown(); }
        else if (event === "reset") { streamed = ""; textOf(msg).textContent = ""; }  // the server replaces what it sent
        else if (event === "message") { replied = true; renderReply(msg, data); }
        else if (event === "error") throw new TurnError(data.detail || "Не удалось получить ответ.");
      };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = parseSSE(buffer + decoder.decode(value, { stream: true }), onEvent);
      }
      parseSSE(buffer + decoder.decode() + "\n\n", onEvent);
      if (!replied) throw new TurnError("Ответ прервался. Попробуйте ещё раз.");
    } catch (err) {
      msg.remove();
      if (!replied) {  // the message was not accepted: give it back to edit or resend
        mine.remove();
        if (!input.value.trim()) input.value = text;
      }
      showNotice(err instanceof TurnError ? err.message : "Нет связи с сервером. Проверьте подключение и попробуйте ещё раз.");
    } finally {
      input.focus();
      endTurn(replied);
    }
  }

  async function uploadAudio(blob, filename, label) {
    if (busy) return;
    setBusy(true);
    showNotice("");
    const mine = bubble("me", label);
    const msg = typingBubble();
    const data = new FormData();
    data.append("file", blob, filename);
    data.append("voice_reply", voiceToggle.checked ? "true" : "false");
    data.append("audio_format", "mp3");
    let replied = false;
    try {
      const response = await api("/ai/voice_upload", { method: "POST", body: data });
      if (!response.ok) throw new TurnError(await explain(response, "audio"));
      const accepted = await response.json();
      await pollTask(accepted.status_url || `/ai/tasks/${accepted.task_id}`, (result) => {
        if (result.transcript && !mine.querySelector(".transcript")) {
          mine.appendChild(node("span", "transcript", `«${result.transcript}»`));
        }
        if (result.reply && !replied) { replied = true; renderReply(msg, { ...result.reply, audio: null }); }
        if (result.audio_url) addPlayer(msg, result.audio_url, true);
      });
      if (!replied) throw new TurnError("Не удалось получить ответ на голосовое сообщение.");
    } catch (err) {
      if (!replied) { msg.remove(); mine.classList.add("msg--failed"); }
      showNotice(err instanceof TurnError ? err.message : "Нет связи с сервером. Проверьте подключение и попробуйте ещё раз.");
    } finally {
      endTurn(replied);
    }
  }

  // --- voice recording (MediaRecorder) ----------------------------------------------------------
  let recorder = null, recordTimer = null;
  const RECORD_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];

  function setRecording(startedAt) {
    const on = startedAt !== null;
    clearInterval(recordTimer);
    recordBtn.setAttribute("aria-pressed", String(on));
    recordBtn.setAttribute("aria-label", on ? "Остановить запись и отправить" : "Записать голосовое сообщение");
    recordText.textContent = "Голос";
    if (!on) return;
    const tick = () => {
      const s = Math.floor((Date.now() - startedAt) / 1000);
      recordText.textContent = `Стоп ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
      if (s >= MAX_RECORD_SECONDS && recorder) recorder.stop();
    };
    tick();
    recordTimer = setInterval(tick, 250);
  }

  recordBtn.addEventListener("click", async () => {
    if (recorder) { recorder.stop(); return; }
    if (busy) return;
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      showNotice("Запись голоса не поддерживается этим браузером. Отправьте аудиофайл.");
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (_) {
      showNotice("Нет доступа к микрофону. Разрешите его в браузере или отправьте аудиофайл.");
      return;
    }
    showNotice("");
    const type = RECORD_TYPES.find((t) => MediaRecorder.isTypeSupported(t));
    const rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    const chunks = [], startedAt = Date.now();
    rec.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    rec.onstop = () => {
      stream.getTracks().forEach((t) => t.stop());
      recorder = null;
      setRecording(null);
      if (Date.now() - startedAt < 700 || !chunks.length) {
        showNotice("Запись слишком короткая. Нажмите «Голос», скажите вопрос и нажмите ещё раз.");
        return;
      }
      const mime = rec.mimeType || type || "audio/webm";
      const ext = mime.includes("ogg") ? "ogg" : mime.includes("mp4") ? "m4a" : "webm";
      uploadAudio(new Blob(chunks, { type: mime }), `voice.${ext}`, "Голосовое сообщение");
    };
    recorder = rec;
    rec.start(250);
    setRecording(startedAt);
  });

  uploadBtn.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    fileInput.value = "";
    if (file) uploadAudio(file, file.name, `Аудиофайл: ${file.name}`);
  });

  // --- account ------------------------------------------------------------------------------
  // Where the visitor came from: this page (path and query), the page before it and the UTM tags of
  // the page's address. The server keeps them with the session that this request creates (first
  // touch); values are cut to the server's limits, and a refused value only drops the tags.
  function visitQuery() {
    const params = new URLSearchParams();
    const put = (name, value, limit) => { if (value) params.set(name, value.trim().slice(0, limit)); };
    put("landing_page", location.pathname + location.search, 1000);
    if (/^https?:/.test(document.referrer)) put("referrer", document.referrer, 1000);
    const page = new URLSearchParams(location.search);
    for (const tag of ["source", "medium", "campaign", "term", "content"]) put(`utm_${tag}`, page.get(`utm_${tag}`), 200);
    return params.toString();
  }

  async function startSession() {
    const response = await api(`/auth/session?${visitQuery()}`);
    if (response.status === 422) await api("/auth/session");  // a malformed tag: start without them
  }

  async function refreshAccount(renew) {
    if (renew) await startSession();  // starts the session; signs in a visitor the funnel registered
    const response = await api("/auth/users/me");
    const me = response.ok ? await response.json() : null;
    const signedIn = Boolean(me && me.is_authenticated);
    accountStatus.textContent = signedIn ? `Вы вошли: ${me.login || me.email}` : "Гость";
    accountBox.classList.toggle("is-user", signedIn);
    logoutBtn.hidden = !signedIn;
    loginBtn.hidden = signedIn;
  }

  // "Войти" drives the chat's login path: the assistant asks for the e-mail, sends a code, signs in.
  loginBtn.addEventListener("click", () => {
    if (busy) return;
    send("войти");
    input.focus();
  });

  logoutBtn.addEventListener("click", async () => {
    try {
      const response = await api("/auth/jwt/logout", { method: "POST" });
      if (!response.ok) { showNotice(await explain(response, "text")); return; }
      renderStage(0);
      await refreshAccount(true);
      bubble("bot", "Вы вышли из аккаунта. Можно продолжить как гость.");
      input.focus();
    } catch (_) {
      showNotice("Нет связи с сервером. Проверьте подключение и попробуйте ещё раз.");
    }
  });

  // --- composer -----------------------------------------------------------------------------
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) { showNotice("Введите сообщение."); input.focus(); return; }
    if (text.length > MAX_CHARS) { showNotice(`Сообщение длиннее ${MAX_CHARS} символов — сократите его.`); return; }
    if (busy) { sendWhenFree = true; return; }
    input.value = "";
    autosize();
    send(text);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, window.innerHeight * 0.3)}px`;
  }
  input.addEventListener("input", autosize);

  // --- start --------------------------------------------------------------------------------
  const welcome = bubble("bot", "Здравствуйте! Я Лида, консультант Leadinc. Расскажу о тарифах и заявках, "
    + "покажу аналитику по вашей нише или помогу зарегистрироваться.");
  renderChips(welcome, ["Какие есть тарифы?", "Как вернуть деньги?", "Хочу зарегистрироваться"], "Быстрые вопросы");
  refreshAccount(true).then(loadHistory).catch(() => {
    accountStatus.textContent = "Гость";
    showNotice("Нет связи с сервером. Проверьте подключение и обновите страницу.");
  });
  input.focus();
})();
