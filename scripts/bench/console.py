"""Operator console list latency on 100k stored messages (issue 15: p95 ≤ 200 ms per list page).

Creates a throwaway PostgreSQL database with the migrations, seeds ``--conversations`` conversations
of ``--per`` messages each (a fifth of them registered, four scenarios, one assistant turn in twenty
fallen back; landing page and UTM tags on every conversation), starts the app with uvicorn (one
worker) and requests each console list (conversations, leads) ``--runs`` times, one at a time, with
``X-Admin-Token``. Prints p50/p95 per request kind and the machine's load.

    .venv/bin/python -m scripts.bench.console            # 10000 x 10 = 100k messages, 100 runs each
"""

from __future__ import annotations

import argparse
import time

import httpx
import psycopg2

from scripts.bench._common import (
    BENCH_VAR_DIR,
    SECRET,
    Server,
    ThrowawayDatabase,
    app_env,
    flush_redis,
    machine,
    percentiles,
    prepare_index,
)

SEED = """
INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified, created_at, city, niche)
SELECT md5('u' || n)::uuid, 'lead' || n || '@example.com', 'x', true, false, false,
       now() - (n %% 30) * interval '1 day', 'Москва', 'кофейни'
FROM generate_series(1, %(conversations)s / 5) AS n;

INSERT INTO chat_sessions (id, user_id, is_guest, funnel_stage, created_at, updated_at,
                           landing_page, utm_source, utm_medium, utm_campaign)
SELECT md5('s' || n)::uuid, CASE WHEN n %% 5 = 0 THEN md5('u' || (n / 5))::uuid END, n %% 5 <> 0,
       CASE WHEN n %% 3 = 0 THEN n %% 4 END, now() - (n %% 30) * interval '1 day', now(),
       '/?utm_source=yandex&utm_campaign=c' || n %% 7, CASE WHEN n %% 2 = 0 THEN 'yandex' END,
       CASE WHEN n %% 2 = 0 THEN 'cpc' END, 'c' || n %% 7
FROM generate_series(1, %(conversations)s) AS n;

INSERT INTO messages (id, session_id, user_id, role, scenario, text, metadata, created_at)
SELECT gen_random_uuid(), md5('s' || s)::uuid, NULL,
       CASE WHEN m %% 2 = 0 THEN 'user' ELSE 'assistant' END,
       CASE WHEN m %% 2 = 1 THEN (ARRAY['FAQ', 'ANALYTICS', 'REGISTRATION', 'OFFTOPIC'])[1 + (s + m) %% 4] END,
       CASE WHEN m %% 2 = 0 THEN 'Сколько стоит тариф для ниши номер ' || s || ' в городе?'
            ELSE 'Тариф «Старт» подойдёт для начала, заявок будет достаточно. Ответ ' || m END,
       CASE WHEN m %% 2 = 1 THEN jsonb_build_object(
                'scenario', 'FAQ', 'action', 'answer', 'provider', 'offline', 'latency_ms', 40,
                'fallback', (s + m) %% 20 = 1, 'fallback_reason', NULL, 'sources', '[]'::jsonb,
                'tool_calls', '[]'::jsonb)
            ELSE '{}'::jsonb END,
       now() - (s %% 30) * interval '1 day' + m * interval '1 minute'
FROM generate_series(1, %(conversations)s) AS s, generate_series(0, %(per)s - 1) AS m;

INSERT INTO funnel_events (id, session_id, from_stage, to_stage, at)
SELECT gen_random_uuid(), md5('s' || n)::uuid, 0, 1, now() - (n %% 30) * interval '1 day'
FROM generate_series(1, %(conversations)s) AS n WHERE n %% 3 = 0;
ANALYZE;
"""

CONVERSATIONS, LEADS = "/admin/conversations", "/admin/leads"
KINDS = {
    "first page (50)": (CONVERSATIONS, {"limit": 50}),
    "page 100 (offset 4950)": (CONVERSATIONS, {"limit": 50, "offset": 4950}),
    "failed=true": (CONVERSATIONS, {"failed": "true", "limit": 50}),
    "scenario=ANALYTICS": (CONVERSATIONS, {"scenario": "ANALYTICS", "limit": 50}),
    "registered=false": (CONVERSATIONS, {"registered": "false", "limit": 50}),
    "q= (text search)": (CONVERSATIONS, {"q": "ниши номер 777 ", "limit": 50}),
    "q= 111 conversations": (CONVERSATIONS, {"q": "номер 12", "limit": 50}),
    "q= every conversation": (CONVERSATIONS, {"q": "тариф", "limit": 50}),
    "leads first page (50)": (LEADS, {"limit": 50}),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--per", type=int, default=10, help="messages per conversation")
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    BENCH_VAR_DIR.mkdir(parents=True, exist_ok=True)
    prepare_index()
    flush_redis()
    with ThrowawayDatabase() as database:
        started = time.monotonic()
        conn = psycopg2.connect(database.url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(SEED, {"conversations": args.conversations, "per": args.per})
                cur.execute("SELECT count(*) FROM messages")
                messages = cur.fetchone()[0]  # type: ignore[index]
        finally:
            conn.close()
        print(f"seeded {messages} messages in {args.conversations} conversations in {time.monotonic() - started:.1f} s")
        server = Server("backend.main:app_factory", app_env(database.url), BENCH_VAR_DIR / "console-server.log")
        try:
            server.wait_ready()
            headers = {"X-Admin-Token": SECRET}
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
                last_leads = {"limit": 50, "offset": max(args.conversations // 5 - 50, 0)}
                for name, (path, params) in {**KINDS, "leads last page": (LEADS, last_leads)}.items():
                    for _ in range(5):  # warm-up
                        client.get(path, params=params).raise_for_status()
                    latencies = []
                    total = 0
                    for _ in range(args.runs):
                        began = time.perf_counter()
                        response = client.get(path, params=params)
                        latencies.append(time.perf_counter() - began)
                        response.raise_for_status()
                        total = response.json()["total"]
                    p = percentiles(latencies)
                    print(f"{name:24} total {total:6}  p50 {p[50] * 1000:6.1f} ms  p95 {p[95] * 1000:6.1f} ms")
        finally:
            server.stop()
    print(machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
