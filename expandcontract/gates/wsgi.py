"""`GateApp` as a WSGI application, served by waitress.

waitress is a maintained, pure-Python, threaded WSGI server: its own HTTP parser answers malformed
requests (a `Content-Length` of `abc` or `-1`, a bad request line, oversized headers) with a 400 and
closes the connection cleanly, its channel layer accepts connections on one thread and hands complete
requests to a pool of worker threads, so the blocking kubernetes client never stalls the accept loop,
and it caps request bodies before our code sees them (`max_request_body_size`). The app reads the body
itself only up to the configured cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from expandcontract.gates.server import GateApp, Raw

STATUS_TEXT = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    411: "411 Length Required",
    413: "413 Payload Too Large",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


def wsgi_app(app: GateApp) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    import json

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raw = b""
        length_text = str(environ.get("CONTENT_LENGTH") or "0").strip() or "0"
        if not length_text.isdigit():
            status, doc = 400, {"error": "Content-Length must be a non-negative integer"}
        elif int(length_text) > app.max_body:
            status, doc = 413, {"error": f"the request body is larger than {app.max_body} bytes"}
        else:
            raw = environ["wsgi.input"].read(int(length_text)) if int(length_text) else b""
            headers = {"authorization": str(environ.get("HTTP_AUTHORIZATION") or "")}
            status, doc = app.handle(
                str(environ.get("REQUEST_METHOD", "GET")),
                str(environ.get("PATH_INFO") or "/"),
                str(environ.get("QUERY_STRING") or ""),
                headers,
                raw,
            )
        if isinstance(doc, Raw):
            data, content_type = doc.data, doc.content_type
        else:
            data, content_type = json.dumps(doc).encode(), "application/json"
        response_headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
        if status == 401:
            response_headers.append(("WWW-Authenticate", 'Bearer realm="expandcontract"'))
        start_response(STATUS_TEXT.get(status, f"{status} Error"), response_headers)
        return [data]

    return application


def make_server(app: GateApp, host: str = "127.0.0.1", port: int = 8080, *, threads: int = 16) -> Any:
    """A waitress server (call `.run()`; `.close()` stops it). `port=0` picks a free port
    (`server.effective_port`)."""
    from waitress.server import create_server

    return create_server(
        wsgi_app(app),
        host=host,
        port=port,
        threads=threads,
        connection_limit=1000,
        backlog=1024,
        channel_timeout=60,
        # waitress buffers up to this much, so the app answers a body over its own cap with a clean 413
        # (a server that stops reading mid-body makes the client's TCP stack drop the answer)
        max_request_body_size=app.max_body * 4,
        ident="expandcontract-gate",
        expose_tracebacks=False,
        clear_untrusted_proxy_headers=True,
    )


def run_in_thread(server: Any) -> Callable[[], None]:
    """Serve on a daemon thread until the returned `stop()` is called (tests, benchmarks). The loop
    thread closes the sockets itself, so no select() ever sees a descriptor closed under it."""
    import threading

    from waitress import wasyncore

    stopped = threading.Event()

    def loop() -> None:
        while not stopped.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown()
        server.close()

    thread = threading.Thread(target=loop, name="expandcontract-serve", daemon=True)
    thread.start()

    def stop() -> None:
        stopped.set()
        thread.join(10)

    return stop
