"""The rules of holdall, free of HTTP: objects, multipart uploads, buckets, lifecycle."""
