"""Blob stores: immutable byte files named by random ids."""
