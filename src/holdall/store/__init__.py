"""Persistence: a metadata store and a blob store behind small interfaces."""
