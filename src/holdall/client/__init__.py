"""holdall's client side: URLs and calls signed locally, with the same code the server verifies them with."""

from holdall.client.control import SCHEMES, SignedCall, sign_call
from holdall.client.presign import DIALECTS, presign_url

__all__ = ["DIALECTS", "SCHEMES", "SignedCall", "presign_url", "sign_call"]
