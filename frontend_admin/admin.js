// The operator console: plain JS over the admin API (every list is paginated by the server).
// Visitor text is always inserted with textContent, never as HTML.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const PAGE = 25;
  const state = { convOffset: 0, leadsOffset: 0, filters: {}, charts: {} };

  const cookie = (name) => {
    const row = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return row ? row.slice(name.length + 1) : "";
  };

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    const csrf = cookie("csrftoken"); // double-submit CSRF, as on the chat page
    if (csrf && options.method && options.method !== "GET") headers["X-CSRFToken"] = csrf;
    const response = await fetch(path, { credentials: "same-origin", ...options, headers });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.detail || `Ошибка ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  const node = (tag, text, className) => {
    const el = document.createElement(tag);
    if (text !== undefined && text !== null) el.textContent = String(text);
    if (className) el.className = className;
    return el;
  };
  const when = (iso) => (iso ? new Date(iso).toLocaleString("ru-RU", { dateStyle: "short", timeStyle: "short" }) : "—");
  const day = (iso) => (iso ? new Date(iso).toLocaleDateString("ru-RU") : "—");
  const stage = (n) => (n === null || n === undefined ? "—" : String(n));
  const HANDOFF = { assistant: "ассистент", waiting: "ждёт человека", taken: "менеджер", closed: "закрыт" };
  const handoffLabel = (s) => HANDOFF[s] || s || "ассистент";
  // Where the visitor came from (the chat page passes it when the session opens).
  const channel = (v) => [v.utm_source, v.utm_medium].filter(Boolean).join(" / ") || "—";
  function visitLine(v) {
    const parts = [];
    if (v.utm_source || v.utm_medium) parts.push(`источник: ${channel(v)}`);
    if (v.utm_campaign) parts.push(`кампания: ${v.utm_campaign}`);
    if (v.utm_term) parts.push(`ключ: ${v.utm_term}`);
    if (v.utm_content) parts.push(`объявление: ${v.utm_content}`);
    if (v.landing_page) parts.push(`страница входа: ${v.landing_page}`);
    if (v.referrer) parts.push(`переход с: ${v.referrer}`);
    return `Откуда: ${parts.join(" · ") || "нет данных"}`;
  }

  function notice(text) {
    $("notice").textContent = text || "";
    $("notice").hidden = !text;
  }

  function showSignIn(message) {
    $("console").hidden = true;
    $("logout").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    $("signin-error").hidden = !message;
  }

  async function start() {
    try {
      await loadConversations();
    } catch (error) {
      if (error.status === 401) return showSignIn("");
      if (error.status === 403) return showSignIn("Этот аккаунт не администратор. Войдите под другим.");
      return notice(error.message);
    }
    $("signin").hidden = true;
    $("console").hidden = false;
    $("logout").hidden = false;
  }

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/auth/jwt/login_custom", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: $("signin-email").value.trim(), password: $("signin-password").value }),
      });
    } catch (error) {
      return showSignIn(error.message);
    }
    $("signin-password").value = "";
    await start();
  });

  $("logout").addEventListener("click", async () => {
    await api("/auth/jwt/logout", { method: "POST" }).catch(() => undefined);
    showSignIn("");
  });

  // ---- tabs
  document.querySelectorAll("[data-tab]").forEach((tab) => {
    tab.addEventListener("click", () => {
      document.querySelectorAll("[data-tab]").forEach((t) => t.setAttribute("aria-selected", String(t === tab)));
      document.querySelectorAll(".tab").forEach((section) => { section.hidden = section.id !== `tab-${tab.dataset.tab}`; });
      notice("");
      const load = { conversations: loadConversations, leads: loadLeads, funnel: loadFunnel }[tab.dataset.tab];
      load().catch((error) => notice(error.message));
    });
  });

  // ---- conversations
  function filterParams() {
    const form = new FormData($("filters"));
    const params = new URLSearchParams();
    const since = form.get("since"), until = form.get("until");
    if (since) params.set("since", new Date(`${since}T00:00:00`).toISOString());
    if (until) params.set("until", new Date(new Date(`${until}T00:00:00`).getTime() + 86400000).toISOString());
    for (const name of ["scenario", "registered", "q", "handoff"]) {
      const value = (form.get(name) || "").trim();
      if (value) params.set(name, value);
    }
    if (form.get("failed")) params.set("failed", "true");
    return params;
  }

  async function loadConversations() {
    const params = filterParams();
    params.set("limit", PAGE);
    params.set("offset", state.convOffset);
    const data = await api(`/admin/conversations?${params}`);
    const body = $("conversations").querySelector("tbody");
    body.replaceChildren();
    for (const c of data.conversations) {
      const row = document.createElement("tr");
      row.dataset.id = c.id;
      row.tabIndex = 0;
      row.append(
        node("td", when(c.last_message_at)),
        node("td", c.user_email || "гость"),
        node("td", c.messages),
        node("td", c.scenarios.join(", ") || "—"),
        node("td", c.fallbacks, c.fallbacks ? "bad" : ""),
        node("td", stage(c.funnel_stage)),
        node("td", handoffLabel(c.handoff_state), c.handoff_state === "waiting" ? "bad" : ""),
      );
      const open = () => {
        body.querySelectorAll("tr").forEach((r) => r.removeAttribute("aria-selected"));
        row.setAttribute("aria-selected", "true");
        openTranscript(c.id).catch((error) => notice(error.message));
      };
      row.addEventListener("click", open);
      row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
      body.append(row);
    }
    $("conversations-total").textContent = `Найдено диалогов: ${data.total}`;
    pager("conv", data);
  }

  function pager(prefix, data) {
    const pages = Math.max(1, Math.ceil(data.total / data.limit));
    $(`${prefix}-page`).textContent = `стр. ${Math.floor(data.offset / data.limit) + 1} из ${pages}`;
    $(`${prefix}-prev`).disabled = data.offset === 0;
    $(`${prefix}-next`).disabled = data.offset + data.limit >= data.total;
  }

  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.convOffset = 0;
    loadConversations().catch((error) => notice(error.message));
  });
  $("conv-prev").addEventListener("click", () => { state.convOffset = Math.max(0, state.convOffset - PAGE); loadConversations().catch((e) => notice(e.message)); });
  $("conv-next").addEventListener("click", () => { state.convOffset += PAGE; loadConversations().catch((e) => notice(e.message)); });

  function details(message) {
    const list = document.createElement("dl");
    const add = (label, value) => {
      if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return;
      list.append(node("dt", label), node("dd", value));
    };
    add("Сценарий", message.scenario);
    add("Действие", message.action);
    add("Провайдер", message.provider);
    add("Задержка", message.latency_ms !== null ? `${Math.round(message.latency_ms)} мс` : null);
    add("Резерв", message.fallback ? `да: ${message.fallback_reason || "причина не указана"}` : null);
    add("Источники", (message.sources || []).map((s) => s.title || s.article_id || JSON.stringify(s)).join("; "));
    add("Вызовы инструментов", (message.tool_calls || []).map((t) => (typeof t === "string" ? t : t.name || JSON.stringify(t))).join("; "));
    return list;
  }

  // A manager steps in: take the conversation, reply, hand it back to the assistant or close it.
  function handoffPanel(data) {
    const panel = node("div", null, "handoff");
    panel.append(node("p", `Кто отвечает: ${handoffLabel(data.handoff_state)}`, "muted"));
    const act = async (action, options = {}) => {
      try {
        await api(`/admin/conversations/${encodeURIComponent(data.id)}/${action}`, { method: "POST", ...options });
        notice("");
        await openTranscript(data.id);
        await loadConversations();
      } catch (error) {
        notice(error.message);
      }
    };
    const button = (label, action) => {
      const b = node("button", label);
      b.type = "button";
      b.addEventListener("click", () => act(action));
      return b;
    };
    if (data.handoff_state !== "taken") panel.append(button("Взять диалог", "take"));
    if (data.handoff_state !== "assistant") panel.append(button("Вернуть ассистенту", "release"));
    if (data.handoff_state !== "closed") panel.append(button("Закрыть", "close"));
    const form = document.createElement("form");
    const text = document.createElement("textarea");
    text.name = "text";
    text.maxLength = 4000;
    text.rows = 2;
    text.setAttribute("aria-label", "Ответ посетителю");
    const send = node("button", "Ответить");
    send.type = "submit";
    form.append(text, send);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!text.value.trim()) return;
      act("reply", { headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: text.value }) });
    });
    panel.append(form);
    return panel;
  }

  async function openTranscript(id) {
    const data = await api(`/admin/conversations/${encodeURIComponent(id)}`);
    const box = $("transcript");
    box.replaceChildren(
      node("h2", `Диалог ${data.user_email || "гостя"}`),
      node("p", `Начат ${when(data.created_at)} · этап воронки: ${stage(data.funnel_stage)}`, "muted"),
      node("p", visitLine(data.visit), "muted visit"),
      handoffPanel(data),
    );
    for (const m of data.messages) {
      const turn = node("div", null, `turn turn--${m.role}${m.fallback ? " turn--fallback" : ""}`);
      const who = m.manager ? "Менеджер" : m.role === "assistant" ? "Ассистент" : m.role === "user" ? "Посетитель" : m.role;
      turn.append(node("div", `${who} · ${when(m.created_at)}`, "turn__head"), node("div", m.text, "turn__text"));
      if (m.role === "assistant" && !m.manager) turn.append(details(m));
      box.append(turn);
    }
  }

  // ---- leads
  async function loadLeads() {
    const data = await api(`/admin/leads?limit=${PAGE}&offset=${state.leadsOffset}`);
    const body = $("leads").querySelector("tbody");
    body.replaceChildren();
    for (const lead of data.leads) {
      const row = document.createElement("tr");
      row.append(
        node("td", lead.email),
        node("td", lead.city || "—"),
        node("td", lead.niche || "—"),
        node("td", day(lead.trial_ends_at)),
        node("td", when(lead.first_message_at)),
        node("td", when(lead.last_message_at)),
        node("td", stage(lead.stage_reached)),
        node("td", channel(lead.visit)),
        node("td", lead.visit.utm_campaign || "—"),
        node("td", lead.visit.landing_page || "—", "url"),
      );
      body.append(row);
    }
    $("leads-total").textContent = `Зарегистрированных аккаунтов: ${data.total}`;
    pager("leads", data);
  }
  $("leads-prev").addEventListener("click", () => { state.leadsOffset = Math.max(0, state.leadsOffset - PAGE); loadLeads().catch((e) => notice(e.message)); });
  $("leads-next").addEventListener("click", () => { state.leadsOffset += PAGE; loadLeads().catch((e) => notice(e.message)); });

  // ---- funnel (Chart.js, vendored in /admin/assets/vendor)
  function chart(id, config) {
    if (state.charts[id]) state.charts[id].destroy();
    state.charts[id] = new window.Chart($(id), config);
  }

  async function loadFunnel() {
    const data = await api(`/admin/stats/funnel?days=${$("funnel-days").value}`);
    const labels = data.days.map((d) => d.day.slice(5));
    const series = [
      ["Посетители", "visitors", "#9bb8ff"],
      ["Этап 1", "stage1", "#2f6bff"],
      ["Этап 2", "stage2", "#1b3fa6"],
      ["Регистрация", "registered", "#146c2e"],
    ];
    chart("funnel-chart", {
      type: "bar",
      data: { labels, datasets: series.map(([label, key, color]) => ({ label, data: data.days.map((d) => d[key]), backgroundColor: color })) },
      options: { animation: false, responsive: true, aspectRatio: 2.4, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    chart("scenario-chart", {
      type: "doughnut",
      data: {
        labels: data.scenarios.map((s) => s.scenario),
        datasets: [{ data: data.scenarios.map((s) => s.turns), backgroundColor: ["#2f6bff", "#146c2e", "#f59e0b", "#b42318", "#7c3aed", "#5d6780"] }],
      },
      options: { animation: false, responsive: true, aspectRatio: 1.3 },
    });
    $("fallback-rate").textContent = `Ответов ассистента: ${data.assistant_turns} · доля резервных и ошибочных: ${(data.fallback_rate * 100).toFixed(1)} %`;
  }
  $("funnel-days").addEventListener("change", () => loadFunnel().catch((e) => notice(e.message)));

  start();
})();
