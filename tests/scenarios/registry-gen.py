#!/usr/bin/env python3
"""Writes a random but valid distribution registry storage tree.

Usage: registry-gen.py SEED ROOTDIR

The tree is what distribution 2.8's filesystem driver writes (blobs with
real sha256 digests of their content, _layers and _manifests links), with
what a registry accumulates: layers shared within and across repositories,
overwritten tags (untagged manifests), deleted manifests (revision and tag
gone, blobs left), manifest lists / OCI indexes (tagged or not), blobs no
manifest references, and abandoned uploads. Prints one JSON line describing
what it made (for the caller's choices, never for expected results).
"""
import hashlib
import json
import os
import random
import sys

seed, root = int(sys.argv[1]), sys.argv[2]
rng = random.Random(seed)
v2 = os.path.join(root, "docker/registry/v2")
os.makedirs(os.path.join(v2, "repositories"), exist_ok=True)
counter = [0]


def blob(data):
    h = hashlib.sha256(data).hexdigest()
    d = os.path.join(v2, "blobs/sha256", h[:2], h)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "data"), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}


def link(path, digest):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "link"), "w") as f:
        f.write(digest)


def content():
    counter[0] += 1
    return (b"%d-%d " % (seed, counter[0])) * rng.randint(1, 400)


def hexof(d):
    return d["digest"][7:]


shared = [blob(content()) for _ in range(rng.randint(1, 4))]
made = {"indexes": 0, "untagged": 0, "deleted": 0, "orphans": 0, "uploads": 0}
for r in range(rng.randint(1, 4)):
    name = rng.choice(["app", "lib/app", "team/x", "web"]) + str(r)
    repo = os.path.join(v2, "repositories", name)
    manifests = []  # (descriptor, is_index)
    for i in range(rng.randint(1, 5)):
        layers = rng.sample(shared, rng.randint(0, len(shared))) + [
            blob(content()) for _ in range(rng.randint(0, 2))
        ]
        cfg = blob(json.dumps({"architecture": "amd64", "os": "linux", "n": counter[0]}).encode())
        doc = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": dict(cfg, mediaType="application/vnd.docker.container.image.v1+json"),
            "layers": [
                dict(l, mediaType="application/vnd.docker.image.rootfs.diff.tar.gzip") for l in layers
            ],
        }
        if rng.random() < 0.3:
            doc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
            doc["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json"
            for l in doc["layers"]:
                l["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
        m = dict(blob(json.dumps(doc).encode()), mediaType=doc["mediaType"])
        for d in [cfg] + layers:
            link(os.path.join(repo, "_layers/sha256", hexof(d)), d["digest"])
        link(os.path.join(repo, "_manifests/revisions/sha256", hexof(m)), m["digest"])
        manifests.append(m)
    if len(manifests) >= 2 and rng.random() < 0.5:
        children = rng.sample(manifests, 2)
        oci = rng.random() < 0.5
        mt = (
            "application/vnd.oci.image.index.v1+json"
            if oci
            else "application/vnd.docker.distribution.manifest.list.v2+json"
        )
        doc = {
            "schemaVersion": 2,
            "mediaType": mt,
            "manifests": [
                dict(c, platform={"architecture": a, "os": "linux"})
                for c, a in zip(children, ["amd64", "arm64"])
            ],
        }
        idx = dict(blob(json.dumps(doc).encode()), mediaType=mt)
        link(os.path.join(repo, "_manifests/revisions/sha256", hexof(idx)), idx["digest"])
        manifests.append(idx)
        made["indexes"] += 1
    tags = {}
    for i, m in enumerate(manifests):
        roll = rng.random()
        if roll < 0.6:
            tags["t%d" % i] = m
        elif roll < 0.75:
            made["untagged"] += 1
        elif roll < 0.85:
            # Deleted through the API: revision and tags go, blobs stay.
            os.remove(os.path.join(repo, "_manifests/revisions/sha256", hexof(m), "link"))
            os.rmdir(os.path.join(repo, "_manifests/revisions/sha256", hexof(m)))
            made["deleted"] += 1
        else:
            made["untagged"] += 1
    for tag, m in tags.items():
        link(os.path.join(repo, "_manifests/tags", tag, "current"), m["digest"])
        link(os.path.join(repo, "_manifests/tags", tag, "index/sha256", hexof(m)), m["digest"])
    if rng.random() < 0.3:
        up = os.path.join(repo, "_uploads", "%08x-0000-4000-8000-%012x" % (seed, r))
        os.makedirs(os.path.join(up, "hashstates/sha256"), exist_ok=True)
        with open(os.path.join(up, "data"), "wb") as f:
            f.write(content())
        with open(os.path.join(up, "startedat"), "w") as f:
            f.write("2026-01-01T00:00:00Z")
        made["uploads"] += 1
for _ in range(rng.randint(0, 5)):
    blob(content())
    made["orphans"] += 1
print(json.dumps(made))
