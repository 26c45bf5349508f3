"""Settings of one holdall server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GiB = 1024**3
DEFAULT_RESERVE = 256 * 1024**2


@dataclass(slots=True)
class Settings:
    data_dir: Path = Path("holdall-data")
    meta_url: str = ""
    blobs_url: str = ""
    """Where blobs live: ``file:///PATH`` or ``s3://BUCKET/PREFIX?endpoint=…&region=…``; empty: under --data."""
    """Where metadata lives: ``sqlite:///PATH`` or ``postgresql://…``; empty: SQLite in the data directory."""
    host: str = "127.0.0.1"
    port: int = 9000
    domain: str = "localhost"
    access_log: str = "off"
    """Where a JSON line per request goes: a file, ``-`` for standard output, or ``off``."""
    metrics_token: str = ""
    """A bearer token ``GET /metrics`` asks for; empty: the metrics are open to anyone who can connect."""
    workers: int = 1
    region: str = "cn-bj"
    bucket_delete_delay: int = 20 * 60
    upload_max_age: int = 7 * 24 * 3600
    blob_grace: int = 3600
    sweep_interval: int = 60
    max_object_size: int = 5 * GiB
    inline_limit: int = 32 * 1024
    min_free_bytes: int | None = None
    min_free_percent: float | None = None
    """The disk space writes leave free: these bytes, or this share of the volume; by default
    5 % of the volume, at most 256 MiB, so a small volume is not refused every write."""
    body_timeout: float = 60.0
    head_timeout: float = 10.0
    keepalive_timeout: float = 5.0
    max_head_bytes: int = 16 * 1024
    max_connections: int = 0
    """Per worker; 0 derives it from the open-files limit."""
    max_uploads: int = 256
    """Request bodies a worker streams into blobs at once."""
    graceful_timeout: int = 30
    """Seconds in-flight requests get to finish on SIGTERM."""
    log_level: str = "warning"
    clock_file: Path | None = None
    max_tokens: int = 50
    usage_flush_interval: float = 1.0
    price_storage_volume: float = 0.72
    price_download_traffic: float = 40.0
    price_request_count: float = 1.0
    cos_token_lifetime: int = 30 * 60
    cos_token_rate: int = 20
    temp_bucket: str = "holdall-temp"
    temp_upload_lifetime: int = 15 * 60
    temp_file_max_age: int = 24 * 3600
    resource_bucket: str = "holdall-resources"
    resource_formats: tuple[str, ...] = ("mp3", "wav")
    resource_url_lifetime: int = 10 * 60
    resource_pending_max: int = 1000

    @property
    def system_buckets(self) -> tuple[str, str]:
        """The buckets the root account keeps for temporary and resource uploads (seeds 000, 003)."""
        return (self.temp_bucket, self.resource_bucket)

    def free_space_reserve(self, volume_bytes: int) -> int:
        if self.min_free_bytes is not None:
            return self.min_free_bytes
        if self.min_free_percent is not None:
            return int(volume_bytes * self.min_free_percent / 100)
        return min(DEFAULT_RESERVE, volume_bytes // 20)

    @property
    def meta_path(self) -> Path:
        return self.data_dir / "meta.sqlite3"

    @property
    def meta_target(self) -> str:
        return self.meta_url or f"sqlite://{self.meta_path.resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def public_host_suffix(self) -> str:
        """What follows ``<bucket>.`` in a bucket's own host name."""
        return self.domain if self.port == 80 else f"{self.domain}:{self.port}"
