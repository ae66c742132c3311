"""The seed's legacy data path, as its Python servers did it: an ndarray
becomes nested lists (tolist), JSON (json.dumps), travels as an HTTP reply
(aiohttp/requests in the old system; the standard library here), and the
client parses it (json.loads) back into an ndarray.

usage: legacy_path.py RAW_UINT16_FILE Z Y X ROUNDS  -> prints JSON {"ms": [...], "bytes": N}
"""
import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

raw, z, y, x, rounds = sys.argv[1], *map(int, sys.argv[2:6])
volume = np.fromfile(raw, dtype=np.uint16).reshape(z, y, x)
sent = {"bytes": 0}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": volume.tolist(), "shape": list(volume.shape), "dtype": "uint16"}).encode()
        sent["bytes"] = len(body)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/api/queue/item/add"
times = []
for _ in range(rounds):
    t0 = time.perf_counter()
    reply = json.loads(urllib.request.urlopen(url).read())
    back = np.array(reply["data"], dtype=np.uint16)
    times.append((time.perf_counter() - t0) * 1000)
    assert back.shape == volume.shape and int(back[z // 2, y // 2, x // 2]) == int(volume[z // 2, y // 2, x // 2])
server.shutdown()
print(json.dumps({"ms": times, "bytes": sent["bytes"]}))
