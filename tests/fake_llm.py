"""A local HTTP server speaking the OpenAI chat-completions API (JSON and SSE streaming)
that replays scripted model behaviour. No instruction-following model runs here, so
the LLM path is tested against this; the client talks real HTTP to it.

Each request takes the next behaviour from the queue (the last one repeats). A behaviour
is a function of the request's messages returning a `Reply`.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0            # before the response starts
    chunk_delay: float = 0.0      # between streamed chunks
    stall_after: int | None = None   # stop sending (without closing) after this many chunks
    malformed: bool = False       # a stream line that is not JSON


Behaviour = Callable[[list[dict]], Reply]


def sources(messages: list[dict]) -> dict[int, str]:
    """Source n's text from the prompt."""
    user = messages[-1]["content"] if messages[-1]["role"] == "user" else ""
    for m in messages:
        if "<sources>" in m["content"]:
            user = m["content"]
    return {int(n): t.strip() for n, t in re.findall(r'<source id="(\d+)"[^\n]*>\n(.*?)\n</source>', user, re.S)}


def first_sentence(text: str) -> str:
    m = re.search(r"[^。！？]{6,}?[。！？]", text)
    return m.group(0) if m else text


class FakeLLM:
    def __init__(self) -> None:
        self.behaviours: list[Behaviour] = []
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):      # quiet test output
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with fake._lock:
                    fake.requests.append(body)
                    behaviour = fake.behaviours.pop(0) if len(fake.behaviours) > 1 else fake.behaviours[0]
                reply = behaviour(body["messages"])
                try:
                    fake._respond(self, body, reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass                           # the client gave up, as it should on a timeout

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def script(self, *behaviours: Behaviour) -> "FakeLLM":
        with self._lock:
            self.behaviours = list(behaviours)
            self.requests = []
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _respond(h: BaseHTTPRequestHandler, body: dict, r: Reply) -> None:
        time.sleep(r.delay)
        if r.status != 200:
            data = json.dumps({"error": {"message": "scripted failure", "type": "server_error"}}).encode()
            h.send_response(r.status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        if not body.get("stream"):
            data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": r.text}}]}).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "close")
        h.end_headers()
        pieces = [r.text[i:i + 8] for i in range(0, len(r.text), 8)]
        for i, piece in enumerate(pieces):
            if r.stall_after is not None and i == r.stall_after:
                h.wfile.flush()
                time.sleep(3600)
            if r.malformed and i == 1:
                h.wfile.write(b"data: {\"choices\": [{\"delta\": {\"content\": \"oops\n\n")
                h.wfile.flush()
                break
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            h.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            h.wfile.flush()
            time.sleep(r.chunk_delay)
        else:
            h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()
        h.close_connection = True
