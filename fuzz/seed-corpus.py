#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ from the project's
own fixtures (examples/, core/tests/fixtures/, the documented examples) and a few small
hand-written inputs. Idempotent: a seed's file name is its SHA-1, as libFuzzer names the
inputs it adds. Run from anywhere: python3 fuzz/seed-corpus.py"""

import base64
import hashlib
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def read(path):
    return (ROOT / path).read_bytes()


def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


policy = json.loads(read("examples/hk-policy.json"))
attendance = sorted(d for d in (ROOT / "core/tests/fixtures/attendance").iterdir() if d.is_dir())

# The policy: the example and the golden months' policies.
seed("policy", read("examples/hk-policy.json"))
for d in attendance:
    seed("policy", (d / "policy.json").read_bytes())
seed("policy", "{}")

# The seed file: the example, and one with an inline policy.
seed("seed", read("examples/seed.json"))
inline = json.loads(read("examples/seed.json"))
inline["organisations"][0]["policy"] = {"version": 1}
seed("seed", json.dumps(inline))

# Attempts, as `daka check` and the platform layer send them.
NOW = "2026-12-01T01:00:00Z"
seed("attempt", json.dumps({
    "employee_id": "E1001",
    "fix": {"lat": 22.28005, "lon": 114.18305, "accuracy_m": 5.0, "time": NOW},
    "clock": {"wall": NOW, "monotonic_ms": 5000, "boot_id": "b"},
}))
seed("attempt", json.dumps({
    "employee_id": "E1002", "kind": "out",
    "fix": {"lat": 22.281, "lon": 114.184, "accuracy_m": 25.0, "time": NOW,
            "provider": "fused", "mock": False},
    "more_fixes": [{"lat": 22.2811, "lon": 114.1841, "accuracy_m": 30.0,
                    "time": "2026-12-01T00:59:58Z"}],
    "wifi_bssids": ["e0:55:3d:4a:12:c1", "E0-55-3D-4A-12-C2"],
    "face": {"token": "a.b.c", "nonce": "n7"},
    "clock": {"wall": NOW, "monotonic_ms": 5000, "boot_id": "b"},
    "anchor": {"server_time": "2026-12-01T00:00:00Z", "monotonic_ms": 1000, "boot_id": "b"},
}))

# Face tokens. Mode byte even: the token as sent; odd: header and claims, signed by the
# target with the trusted demonstration key (NONCE stands for the issued nonce).
header = {"alg": "EdDSA", "kid": "hl-face-device-2026-01", "typ": "JWT"}
claims = {"iss": "https://face.harbour-lane.example/device", "sub": "E1001",
          "nonce": "NONCE", "iat": 1796086790, "exp": 1796086860, "score": 0.97,
          "liveness": "pass", "model": "fuzz"}
seed("face_token", b"\x01" + (json.dumps(header) + "\n" + json.dumps(claims)).encode())
claims_score = dict(claims, liveness=0.91, score=1)
seed("face_token", b"\x01" + (json.dumps(header) + "\n" + json.dumps(claims_score)).encode())
seed("face_token", b"\x00" + (b64(json.dumps(header)) + "." + b64(json.dumps(claims)) + ".AAAA").encode())
doc = (ROOT / "docs/face-token.md").read_text()
m = re.search(r"```text\n(eyJ[\s\S]*?)\n```", doc)
if m:
    seed("face_token", b"\x00" + "".join(m.group(1).split()).encode())

# Punch records: the documented record, canonical and pretty-printed.
text = (ROOT / "docs/punch-record.md").read_text()
blocks = re.findall(r"```json\n([\s\S]*?)\n```", text)
record = next(b for b in blocks if b.startswith('{"clock"'))
seed("punch_record", record)
seed("punch_record", json.dumps(json.loads(record), indent=2, ensure_ascii=False))

# Push requests: the record as a punch item, an approval item, and an empty push.
seed("push_request", '{"items":[{"id":"i1","stream":"punch:dev-hk-0001","kind":"punch","body":'
     + record + "}]}")
seed("push_request", json.dumps({"items": [{"id": "r1", "stream": "request:r1", "kind": "request",
     "body": {"body": {"request_id": "r1", "template": "leave", "form": {}}, "sig": "AA"}}]}))
seed("push_request", '{"items":[]}')

# Push answers and change feed pages as the server writes them.
seed("push_response", json.dumps({"results": [
    {"id": "i1", "status": "accepted"},
    {"id": "i2", "status": "rejected", "code": "bad_signature", "message": "m"},
    {"id": "i3", "status": "retry", "code": "server_deadline"}],
    "server_time": NOW}))
seed("push_response", json.dumps({"code": "busy", "message": "m", "server_time": NOW}))
seed("changes_page", json.dumps({"changes": [], "cursor": "0", "more": False, "server_time": NOW}))
seed("changes_page", json.dumps({"changes": [{"type": "policy", "version": 42}],
     "cursor": "17", "more": True, "server_time": NOW}))

# The console's site form: the fields of the example policy's first site.
site = policy["sites"][0]
fields = [("name", site["name"]), ("tolerance_m", str(site.get("tolerance_m", ""))),
          ("wifi_bssids", "\n".join(site.get("wifi_bssids", []))),
          ("fence_count", "1"), ("f0_type", "circle"), ("f0_center", "22.28, 114.183"),
          ("f0_radius", "40"), ("new_type", "polygon"),
          ("new_vertices", "22.28, 114.18\n22.28, 114.181\n22.281, 114.181"),
          ("action", "save"), ("rev", "1")]
from urllib.parse import urlencode
seed("console_site_form", urlencode(fields))
seed("console_site_form", "name=S&fence_count=1&f0_type=polygon&f0_vertices=22%2C114%0A22%2C114.001%0A22.001%2C114.001&f0_holes=%5B%5D")

# Attendance inputs: months, forms of each template (first byte < 128), and the golden
# months' records (first byte 128).
seed("attendance_inputs", b"\x00" + b"2026-12")
templates = [t["id"] for t in policy["approvals"]["templates"]]
forms = {
    "leave": {"leave_type": "annual", "dates": {"from": "2026-12-24", "to": "2026-12-28"},
              "reason": "family"},
    "missed_punch": {"date": "2026-12-08", "kind": "out", "time": "19:03", "reason": "forgot"},
    "overtime": {"date": "2026-12-18", "minutes": 120, "reason": "stock-take"},
    "expense": {"amount": {"minor": 620000, "currency": "HKD"}, "category": "meals",
                "description": "client dinner"},
}
for name, form in forms.items():
    if name in templates:
        seed("attendance_inputs", bytes([templates.index(name)]) + json.dumps(form).encode())
for d in attendance:
    for f in sorted(d.glob("records*.json")):
        seed("attendance_inputs", b"\x80" + f.read_bytes())

for target in sorted(p.name for p in CORPUS.iterdir()):
    print(f"{target}: {len(list((CORPUS / target).iterdir()))} seeds")
