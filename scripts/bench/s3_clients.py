"""Client choice for MEDIA_STORAGE=s3 (BENCHMARKS.md "Voice: local vs s3 media"): aioboto3 against
obstore, N puts then N gets of a 30 KB object, 8 at a time, against a local SeaweedFS S3 (twice each).

Not part of the project's dependencies: run it in a scratch virtualenv with
``pip install aioboto3==15.5.0 obstore==0.12.1`` and ``S3_ENDPOINT_URL`` pointing at ``weed server -s3``
whose identity has the access key ``testkey`` / ``testsecret``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

ENDPOINT = os.environ.get("S3_ENDPOINT_URL", "http://127.0.0.1:19404")
KEY, SECRET, BUCKET = "testkey", "testsecret", "bench"
N = int(os.environ.get("N", "300"))
CONCURRENCY = 8
BODY = os.urandom(30_000)


async def timed(label: str, operation: Callable[[int], Awaitable[None]], n: int) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with gate:
            started = time.perf_counter()
            await operation(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - started
    latencies.sort()
    p50, p95 = latencies[n // 2] * 1000, latencies[int(n * 0.95)] * 1000
    print(f"{label:14s} n={n} ops/s={n / wall:.0f} p50={p50:.1f}ms p95={p95:.1f}ms")


async def bench_aioboto3() -> None:
    import aioboto3  # type: ignore[import-not-found]
    from botocore.config import Config  # type: ignore[import-not-found]

    session = aioboto3.Session()
    options = {"region_name": "us-east-1", "config": Config(s3={"addressing_style": "path"})}
    async with session.client(
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=KEY, aws_secret_access_key=SECRET, **options
    ) as s3:
        with contextlib.suppress(Exception):
            await s3.create_bucket(Bucket=BUCKET)

        async def put(i: int) -> None:
            await s3.put_object(Bucket=BUCKET, Key=f"a/{i}", Body=BODY)

        async def get(i: int) -> None:
            response: Any = await s3.get_object(Bucket=BUCKET, Key=f"a/{i}")
            async with response["Body"] as body:
                assert len(await body.read()) == len(BODY)

        await timed("aioboto3 put", put, N)
        await timed("aioboto3 get", get, N)


async def bench_obstore() -> None:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=ENDPOINT,
        access_key_id=KEY,
        secret_access_key=SECRET,
        region="us-east-1",
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )

    async def put(i: int) -> None:
        await obstore.put_async(store, f"o/{i}", BODY)

    async def get(i: int) -> None:
        result = await obstore.get_async(store, f"o/{i}")
        assert len(await result.bytes_async()) == len(BODY)

    await timed("obstore put", put, N)
    await timed("obstore get", get, N)


async def main() -> None:
    for _ in range(2):
        await bench_aioboto3()
        await bench_obstore()


if __name__ == "__main__":
    asyncio.run(main())
