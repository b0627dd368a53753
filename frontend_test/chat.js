// Leadinc chat page: plain JS against the real API (SSE chat, voice, registration, errors).
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const log = $("log"), form = $("composer"), input = $("message"), notice = $("notice");
  const sendBtn = $("send"), recordBtn = $("record"), uploadBtn = $("upload"), fileInput = $("audio-file");

  const cookie = (name) => {
    const row = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return row ? decodeURIComponent(row.split("=")[1]) : "";
  };
  const headers = (extra = {}) => {
    const h = { ...extra };
    const csrf = cookie("csrftoken");
    if (csrf) h["X-CSRFToken"] = csrf;  // double-submit CSRF when the server enables it
    return h;
  };

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  async function explain(response) {
    let body = {};
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    const detail = body.detail || "";
    if (response.status === 429) {
      const wait = response.headers.get("Retry-After") || body.retry_after;
      return `${detail || "Слишком много сообщений."}${wait ? ` Повторите через ${wait} с.` : ""}`;
    }
    if (response.status === 503) return "Сервис временно недоступен. Попробуйте через минуту.";
    if (response.status === 413) return "Файл слишком большой.";
    if (response.status === 415 || response.status === 422) return detail || "Проверьте введённые данные.";
    return detail || `Ошибка ${response.status}. Попробуйте ещё раз.`;
  }

  function bubble(kind, text) {
    const el = document.createElement("div");
    el.className = `msg msg--${kind}`;
    el.textContent = text || "";
    log.appendChild(el);
    log.scrollTop = log.scrollHeight;
    return el;
  }

  function renderStage(stage) {
    const bar = $("stages");
    bar.hidden = !stage;
    bar.querySelectorAll("li").forEach((li) => {
      const n = Number(li.dataset.stage);
      li.className = n < stage || stage === 3 ? "done" : n === stage ? "current" : "";
    });
  }

  function renderReply(el, reply) {
    el.classList.remove("msg--typing");
    el.textContent = reply.reply;
    if (reply.sources && reply.sources.length) {
      const box = document.createElement("div");
      box.className = "sources";
      box.textContent = "Источники: ";
      reply.sources.forEach((s) => {
        const tag = document.createElement("span");
        tag.textContent = s.title;
        tag.title = `Статья ${s.article_id}`;
        box.appendChild(tag);
      });
      el.appendChild(box);
    }
    if (reply.dashboard) {
      const wrap = document.createElement("figure");
      wrap.className = "dashboard";
      const caption = document.createElement("h2");
      caption.textContent = reply.dashboard.niche;
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      reply.dashboard.table.columns.forEach((c) => { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); });
      const tbody = table.createTBody();
      reply.dashboard.table.rows.forEach((row) => {
        const tr = tbody.insertRow();
        row.forEach((cell) => { tr.insertCell().textContent = cell; });
      });
      wrap.append(caption, table);
      el.appendChild(wrap);
    }
    const candidates = (reply.fields && reply.fields.candidates) || [];
    if (candidates.length) {
      const chips = document.createElement("div");
      chips.className = "chips";
      candidates.slice(0, 8).forEach((name) => {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.textContent = name;
        chip.addEventListener("click", () => send(name));
        chips.appendChild(chip);
      });
      el.appendChild(chips);
    }
    if (reply.scenario === "REGISTRATION") renderStage(reply.stage || 0);
    if (reply.action === "registered") refreshAccount(true);
    if (reply.audio && reply.audio.status_url) pollTask(reply.audio.status_url, el, false);
    log.scrollTop = log.scrollHeight;
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

  let busy = false;
  async function send(text) {
    text = (text || "").trim();
    if (!text || busy) return;
    busy = true; sendBtn.disabled = true; showNotice("");
    bubble("me", text);
    const botEl = bubble("bot", "");
    botEl.classList.add("msg--typing");
    try {
      const response = await fetch("/ai/chat/stream", {
        method: "POST", credentials: "same-origin",
        headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify({ message: text, voice: $("voice-reply").checked, audio_format: "mp3" }),
      });
      if (!response.ok) {
        botEl.remove();
        showNotice(await explain(response));
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "", streamed = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = parseSSE(buffer + decoder.decode(value, { stream: true }), (event, data) => {
          if (event === "delta") { streamed += data.text; botEl.textContent = streamed; log.scrollTop = log.scrollHeight; }
          else if (event === "message") renderReply(botEl, data);
          else if (event === "error") { botEl.remove(); showNotice(data.detail || "Ошибка."); }
        });
      }
    } catch (err) {
      botEl.remove();
      showNotice("Нет связи с сервером. Проверьте подключение и попробуйте ещё раз.");
    } finally {
      busy = false; sendBtn.disabled = false; input.focus();
    }
  }

  async function pollTask(statusUrl, el, showTranscript) {
    for (let i = 0; i < 120; i++) {
      const response = await fetch(statusUrl, { credentials: "same-origin" });
      if (!response.ok) { showNotice(await explain(response)); return; }
      const task = await response.json();
      if (task.status === "SUCCESS" || task.state === "SUCCESS") {
        const result = task.result || {};
        if (showTranscript && result.transcript) {
          const t = document.createElement("div");
          t.className = "transcript";
          t.textContent = `Вы сказали: «${result.transcript}»`;
          el.before(t);
        }
        if (result.reply) renderReply(el, { ...result.reply, audio: null });
        if (result.audio_url) {
          const audio = document.createElement("audio");
          audio.controls = true; audio.src = result.audio_url;
          el.appendChild(audio);
        }
        return;
      }
      if (task.status === "FAILURE" || task.state === "FAILURE") {
        el.classList.remove("msg--typing");
        el.textContent = "Не удалось обработать аудио.";
        showNotice(task.error || "Не удалось обработать аудио. Попробуйте ещё раз.");
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function uploadAudio(blob, filename) {
    showNotice("");
    const el = bubble("bot", "");
    el.classList.add("msg--typing");
    const data = new FormData();
    data.append("file", blob, filename);
    data.append("voice_reply", $("voice-reply").checked ? "true" : "false");
    data.append("audio_format", "mp3");
    const response = await fetch("/ai/voice_upload", { method: "POST", credentials: "same-origin", headers: headers(), body: data });
    if (!response.ok) { el.remove(); showNotice(await explain(response)); return; }
    const { task_id, status_url } = await response.json();
    await pollTask(status_url || `/ai/tasks/${task_id}`, el, true);
  }

  let recorder = null, chunks = [];
  recordBtn.addEventListener("click", async () => {
    if (recorder && recorder.state === "recording") { recorder.stop(); return; }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      recorder = new MediaRecorder(stream);
      chunks = [];
      recorder.ondataavailable = (e) => chunks.push(e.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        recordBtn.setAttribute("aria-pressed", "false"); recordBtn.textContent = "🎤 Голос";
        uploadAudio(new Blob(chunks, { type: recorder.mimeType }), "voice.webm");
      };
      recorder.start();
      recordBtn.setAttribute("aria-pressed", "true"); recordBtn.textContent = "⏹ Стоп";
    } catch (_) {
      showNotice("Нет доступа к микрофону. Разрешите его в браузере или отправьте аудиофайл.");
    }
  });
  uploadBtn.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file) uploadAudio(file, file.name);
    fileInput.value = "";
  });

  async function refreshAccount(afterRegistration) {
    if (afterRegistration) await fetch("/auth/session", { credentials: "same-origin" });  // picks up the login cookie
    const response = await fetch("/auth/users/me", { credentials: "same-origin" });
    const status = $("account-status"), logout = $("logout");
    if (response.ok) {
      const me = await response.json();
      status.textContent = `Вы вошли: ${me.login || me.email}`;
      logout.hidden = false;
    } else {
      status.textContent = "Гость";
      logout.hidden = true;
    }
  }
  $("logout").addEventListener("click", async () => {
    await fetch("/auth/jwt/logout", { method: "POST", credentials: "same-origin", headers: headers() });
    renderStage(0);
    refreshAccount(false);
  });

  form.addEventListener("submit", (e) => { e.preventDefault(); const t = input.value; input.value = ""; send(t); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  bubble("bot", "Здравствуйте! Я Лида, консультант Leadinc. Спросите о тарифах и заявках, попросите аналитику по своей нише или напишите «хочу зарегистрироваться».");
  refreshAccount(false);
  input.focus();
})();
