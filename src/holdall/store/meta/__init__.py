"""Metadata stores: accounts, buckets, objects, uploads and blob references."""
