"""A small OpenAI-compatible chat-completions server on loopback, for testing the real LangChain client.

It answers every request with `Stub.reply`, streamed word by word when asked to, after `pause`
seconds (a slow model), and keeps the requests it saw so tests can read the prompt that was sent.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


class Stub:
    """`reply` answers every request; `script` (a list of message dicts) answers requests in turn."""

    def __init__(self, reply: str = "", script: list[dict] | None = None, pause: float = 0.0):
        self.reply = reply
        self.pause = pause
        self.script = list(script or [])
        self.requests: list[dict] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.complete)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "Stub":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the OpenAI stub did not start on port {self.port} within 30 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    async def complete(self, request: Request):
        body = await request.json()
        self.requests.append(body)
        await asyncio.sleep(self.pause)
        base = {"id": "chatcmpl-stub", "created": int(time.time()), "model": body.get("model", "stub")}
        if self.script:
            message = self.script.pop(0)
            finish = "tool_calls" if message.get("tool_calls") else "stop"
            return JSONResponse({**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}]})
        if not body.get("stream"):
            return JSONResponse({**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}]})

        def events():
            words = self.reply.split(" ")
            for i, word in enumerate(words):
                piece = word if i == 0 else " " + word
                chunk = {**base, "object": "chat.completion.chunk",
                         "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            done = {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
