#!/usr/bin/env python3
"""A WebSocket chat server and client (Python `websockets`, an implementation we did not write),
for `make demo` and the end-to-end test of WebSocket masking through Envoy.

  ws_chat.py serve PORT        the chat server: tells each client what it received, then answers
                               as an agent with a card number and an e-mail address
  ws_chat.py demo URL          one chat exchange through Envoy, printed for people
  ws_chat.py check URL PORT    the test: runs the server on PORT (Envoy's `chat` cluster) and a
                               client on URL, prints one JSON object with what each side got

The client offers permessage-deflate (the `websockets` default); the filter removes the offer, so
both sides fall back to uncompressed frames.
"""
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

AGENT = "agent: refund sent to card 5555 5555 5555 4444, receipt to jane.doe@example.com"
# a fragmented answer: a value cut across fragments
FRAGMENTS = ["agent: your SSN on file is 123-", "45-6789 and card 4111 1111 ", "1111 1111, ok?"]
LARGE = "x" * 100_000 + " card 4111111111111111"


def server_handler(log):
    async def handler(ws):
        log["offered_extensions"] = ws.request.headers.get("sec-websocket-extensions")
        log["negotiated"] = ws.response.headers.get("sec-websocket-extensions")
        try:
            async for msg in ws:
                log.setdefault("received", []).append(msg)
                await ws.send("server received: " + msg[:200])
                if msg == "bye":
                    await ws.send(AGENT)
                    await ws.send(FRAGMENTS)
                    await ws.send(LARGE)
        finally:
            log["close_code"] = ws.close_code

    return handler


async def serve_forever(port):
    async def handler(ws):
        async for msg in ws:
            print("chat server received:", msg, flush=True)
            await ws.send("server received: " + msg)
            await ws.send(AGENT)

    async with serve(handler, "127.0.0.1", port):
        await asyncio.get_running_loop().create_future()


async def demo(url):
    msg = "customer: my card is 4111 1111 1111 1111, mail me at jane.doe@example.com"
    async with connect(url, open_timeout=10) as ws:
        print("client sends:      " + msg)
        await ws.send(msg)
        print("client receives:   " + await ws.recv())
        print("client receives:   " + await ws.recv())
        await ws.close(1000)


async def check(url, port):
    log = {}
    out = {}
    async with serve(server_handler(log), "127.0.0.1", port, max_size=1 << 21):
        async with connect(url, open_timeout=10, max_size=1 << 21) as ws:
            out["client_negotiated"] = ws.response.headers.get("sec-websocket-extensions")
            sent = [
                "client: card 4111 1111 1111 1111",
                ["my email is jane.", "doe@example.com ok"],
                json.dumps({"user_id": "u-1", "card": "4111111111111111", "note": "call 123-45-6789"}),
                "y" * 100_000 + " card 4111111111111111",
                "bye",
            ]
            got = []
            for m in sent:
                await ws.send(m)
                got.append(await ws.recv())
            for _ in range(3):
                got.append(await ws.recv())
            await ws.ping(b"still there")
            await ws.close(1000)
            out["client_close_code"] = ws.close_code
            out["client_received"] = got
        for _ in range(50):
            if "close_code" in log:
                break
            await asyncio.sleep(0.1)
    out["server"] = log
    print(json.dumps(out))


def main():
    mode = sys.argv[1]
    if mode == "serve":
        asyncio.run(serve_forever(int(sys.argv[2])))
    elif mode == "demo":
        asyncio.run(demo(sys.argv[2]))
    elif mode == "check":
        asyncio.run(asyncio.wait_for(check(sys.argv[2], int(sys.argv[3])), 60))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
