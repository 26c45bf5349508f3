"""holdall's client side: URLs signed locally, with the same code the server verifies them with."""

from holdall.client.presign import DIALECTS, presign_url

__all__ = ["DIALECTS", "presign_url"]
