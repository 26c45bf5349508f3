"""A write commits to the bucket it was authorised for, not to whichever bucket has its name by then."""

from __future__ import annotations

import socket
import uuid

from tests.e2e.helpers import api, call, create_account, signed_headers
from tests.e2e.server import Server


def test_a_slow_put_does_not_land_in_a_bucket_made_anew(server: Server) -> None:
    mallory, alice = (create_account(server.data, f"{who}-{uuid.uuid4().hex[:8]}") for who in ("mallory", "alice"))
    name = f"race-{uuid.uuid4().hex[:10]}"
    assert api(server, "CreateBucket", keys=mallory, BucketName=name, Region="cn-bj")["RetCode"] == 0
    body = b"m" * 200_000
    headers = signed_headers("PUT", name, "planted.txt", {"Content-Type": "text/plain"}, keys=mallory)
    head = f"PUT /{name}/planted.txt HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: {len(body)}\r\n"
    head += "Expect: 100-continue\r\n"  # the server asks for the body once it routed and authorised the PUT
    head += "".join(f"{field}: {value}\r\n" for field, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue"), "the PUT was not admitted"
        sock.sendall(body[:100_000])
        assert api(server, "DeleteBucket", keys=mallory, BucketName=name)["RetCode"] == 0
        assert api(server, "CreateBucket", keys=alice, BucketName=name, Region="cn-bj")["RetCode"] == 0
        sock.sendall(body[100_000:])
        reply = sock.recv(65536).decode("latin-1")
    assert reply.startswith("HTTP/1.1 404"), reply
    assert "-30010" in reply and "deleted while the request ran" in reply, reply
    found = api(server, "DescribeBucket", keys=alice, BucketName=name)["DataSet"][0]
    assert (found["UsedBytes"], found["ObjectCount"]) == (0, 0), found
    assert call(server, "HEAD", name, "planted.txt", keys=alice).status_code == 404
