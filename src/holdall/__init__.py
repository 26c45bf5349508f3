"""holdall: a self-hosted object store that speaks the UFile / Inspur OSS API."""

__version__ = "0.1.0"
