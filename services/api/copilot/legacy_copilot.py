#!/usr/bin/env python3
"""Acts as the existing Python copilot against gently's HTTP API, with the
standard library only (urllib), as its client calls it on port 60610.

usage: legacy_copilot.py BASE_URL   (e.g. http://127.0.0.1:60610)
Checks each answer and exits non-zero naming the first that is wrong;
prints one JSON line with what it saw.
"""
import json
import math
import os
import struct
import sys
import urllib.error
import urllib.request

BASE = sys.argv[1].rstrip("/")
TOKEN = os.environ.get("GENTLY_API_TOKEN")
# the copilot's own timeouts: 120 s per plan, 30 s for a snap
PLAN_TIMEOUT_S = 120


def call(method, path, body=None, timeout=PLAN_TIMEOUT_S):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if TOKEN:
        req.add_header("Authorization", "Bearer " + TOKEN)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.headers.get("Content-Type", ""), res.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def call_json(method, path, body=None, timeout=PLAN_TIMEOUT_S):
    status, _, raw = call(method, path, body, timeout)
    return status, json.loads(raw)


def check(condition, what):
    if not condition:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)


def jpeg_size(raw):
    """(width, height) from the first start-of-frame marker of a JPEG."""
    check(raw[:2] == b"\xff\xd8", "the preview starts with a JPEG SOI marker")
    i = 2
    while i < len(raw):
        marker, length = raw[i + 1], struct.unpack(">H", raw[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", raw[i + 5:i + 9])
            return width, height
        i += 2 + length
    check(False, "the JPEG has a start-of-frame marker")


def longest_list(value):
    """Length of the longest list anywhere in a JSON value: pixels would be a long one."""
    if isinstance(value, list):
        return max([len(value)] + [longest_list(v) for v in value])
    if isinstance(value, dict):
        return max([0] + [longest_list(v) for v in value.values()])
    return 0


seen = {}

status, body = call_json("GET", "/api/status")
check(status == 200, "GET /api/status answers 200, got %d %s" % (status, body))
for key in ("manager_state", "re_state", "devices", "plans", "queue_size"):
    check(key in body, "/api/status has %s" % key)
check("acquire" in body["plans"] and "acquire_volume" in body["plans"], "/api/status lists the copilot's and gently's plan names")
seen["status"] = body

status, tools = call_json("GET", "/api/microscope")
check(status == 200, "GET /api/microscope answers 200")
names = [t["name"] for t in tools]
for name in ("move", "get_position", "acquire", "snap", "detect_image", "calibrate", "set_illumination", "get_illumination", "detect", "status"):
    check(name in names, "tool %s is listed" % name)
acquire_tool = tools[names.index("acquire")]
check(set(acquire_tool) == {"name", "description", "input_schema"}, "tools are in Anthropic's format")
check(acquire_tool["input_schema"]["properties"]["num_slices"]["default"] == 50, "acquire's num_slices defaults to 50")
seen["tools"] = names

status, body = call_json("POST", "/api/queue/item/add", {"item": {"name": "acquire", "kwargs": {"num_slices": 4, "exposure_ms": 1, "session_id": "embryo-7"}}})
check(status == 200 and body.get("success") is True, "acquire through /api/queue/item/add succeeds: %d %s" % (status, body.get("msg")))
docs = body["documents"]
check(docs["start"]["plan_name"] == "acquire_volume", "acquire runs the acquire_volume plan")
check(docs["stop"]["exit_status"] == "success", "the stop document says success")
check(longest_list(docs["events"]) < 64, "no pixel arrays in the events")
volume = body["volumes"][0]
check(set(volume) == {"uid", "path", "shape", "dtype", "session_id"}, "a volume is {uid, path, shape, dtype, session_id}: %s" % sorted(volume))
check(volume["session_id"] == "embryo-7", "the volume belongs to the session the copilot passed: %s" % volume["session_id"])
check(volume["dtype"] == "uint16" and volume["shape"][0] == 4, "shape names the 4 slices: %s" % volume["shape"])
check(os.path.isfile(volume["path"]), "the volume's file exists at %s" % volume["path"])
pixel_bytes = math.prod(volume["shape"]) * 2
size = os.path.getsize(volume["path"])
# OME-TIFF: the pixels plus header, IFDs and OME-XML, planes 4096-aligned
check(pixel_bytes <= size <= pixel_bytes + volume["shape"][0] * 4096 + (1 << 20), "file size %d fits shape %s" % (size, volume["shape"]))
check(docs["stream_resources"][0]["uid"] == volume["uid"], "the stream_resource names the volume")
seen["acquire"] = {"uid": volume["uid"], "path": volume["path"], "shape": volume["shape"], "run_uid": body["uid"], "size": size}

status, _, raw = call("GET", "/api/images/%s/mip.jpg" % volume["uid"])
check(status == 200, "the volume's MIP JPEG is served")
width, height = jpeg_size(raw)
check(max(width, height) <= 800, "the MIP JPEG is at most 800 px: %dx%d" % (width, height))
seen["mip_jpeg"] = [width, height]

status, body = call_json("POST", "/api/microscope/execute", {"plan": "move", "params": {"x": 999999, "y": 0}})
check(status == 422 and body.get("success") is False, "an out-of-limit move is refused with 422: %d %s" % (status, body))
check(body["error"]["code"] == "limit_violation", "the refusal is a limit_violation")
check("999999" in body["msg"], "the message names the value: %s" % body["msg"])
seen["refused_move"] = body["msg"]

status, body = call_json("POST", "/api/microscope/execute", {"plan": "move", "params": {"x": 1500, "y": 0}})
check(status == 200 and body.get("success") is True, "an allowed move succeeds: %d %s" % (status, body))
status, body = call_json("POST", "/api/microscope/execute", {"plan": "get_position", "params": {}})
check(status == 200 and body["result"]["x_um"] == 1500, "get_position reads x = 1500 back: %s" % body.get("result"))
seen["position"] = body["result"]

status, body = call_json("POST", "/api/microscope/execute", {"plan": "snap", "params": {"piezo_position": 50, "galvo_position": 0}}, timeout=30)
check(status == 200 and body.get("success") is True and len(body["volumes"]) == 1, "snap gives one image: %d %s" % (status, body.get("msg")))

status, body = call_json("POST", "/api/queue/item/add", {"item": {"name": "acquire", "kwargs": {"num_slices": "many"}}})
check(status == 400 and body["error"]["field"] == "num_slices", "a malformed parameter is refused naming it: %s" % body)

status, body = call_json("POST", "/api/led/set", {"state": "Open"})
check(status == 200 and body["success"] is True, "LED set Open")
status, body = call_json("GET", "/api/led/status")
check(status == 200 and body["state"] == "Open", "LED status reads Open back: %s" % body)
status, body = call_json("POST", "/api/led/set", {"state": "Dim"})
check(status == 400 and body["error"]["field"] == "state", "an unknown LED state is refused naming the field")

status, body = call_json("POST", "/api/camera/exposure", {"exposure_ms": 2})
check(status == 200, "exposure set")
status, body = call_json("GET", "/api/camera/exposure")
check(body["exposure_ms"] == 2, "exposure reads back")

status, body = call_json("GET", "/api/devices/state")
check(status == 200 and set(body) == {"positions", "properties", "t"} and body["positions"]["x_um"] == 1500, "devices/state: %s" % body)
status, body = call_json("GET", "/api/devices")
check(status == 200 and any(d["name"] == "HamCam1" for d in body["devices"]), "devices lists HamCam1")
status, body = call_json("GET", "/api/plans")
check(status == 200 and any(p["name"] == "timelapse_volume" for p in body["plans"]), "plans lists timelapse_volume")
status, body = call_json("GET", "/api/history")
check(status == 200 and any(r["run_uid"] == seen["acquire"]["run_uid"] for r in body["items"]), "history has the acquisition")

print(json.dumps(seen))
