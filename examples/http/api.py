"""A tiny demo weather API for examples/http_fan_out.yaml, on 127.0.0.1 only.

    python examples/http/api.py [--port 8765]

GET /cities lists cities; GET /weather?city=NAME gives a (made-up, stable) forecast.
"""

from __future__ import annotations

import argparse
import json
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CITIES = ["Paris", "Tokyo", "Lagos", "Lima", "Oslo"]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/cities":
            self._send(200, {"cities": CITIES})
        elif url.path == "/weather":
            city = parse_qs(url.query).get("city", [""])[0]
            if city not in CITIES:
                self._send(404, {"error": f"unknown city {city!r}"})
                return
            seed = zlib.crc32(city.encode())
            self._send(200, {"city": city, "temp_c": seed % 35 - 5, "rain_mm": seed % 12})
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"api: {format % args}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    port = parser.parse_args().port
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"demo API on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
