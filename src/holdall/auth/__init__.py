"""Signing and verification: pure functions shared by the server and the client SDK."""
