"""Builds `directory.json.gz`, the plugin directory every Beacon starts with, from the public
data described in README.md (run: python3 make_directory.py ../../../../shared/data).

One JSON document: Backstage releases (their manifests), plugins, their packages with the
versions the data names, and curated collections. The registry refresh (`server plugins
refresh`) later adds every published version with its dates, dependencies and schemas."""

import datetime
import glob
import gzip
import json
import os
import re
import sys

import yaml

DATA = sys.argv[1] if len(sys.argv) > 1 else "../../../../shared/data"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "directory.json.gz")
MARKET = os.path.join(DATA, "rhdh-extensions-marketplace")
SUPPORT = {"generally-available": "supported", "tech-preview": "tech-preview", "dev-preview": "dev-preview",
           "community": "community", "production": "supported"}


def semver_key(v):
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", v)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


def releases():
    combined = json.load(open(os.path.join(DATA, "backstage-versions/stable-releases-combined.json")))
    out = []
    for version, r in combined.items():
        if semver_key(version) >= (1, 30, 0) and r["packages"]:
            out.append({"version": version, "date": r["date"], "packages": r["packages"]})
    return sorted(out, key=lambda r: semver_key(r["version"]))


def valid_date(text):
    """The date when it is one (the directory has a few like 2023-24-10), else None."""
    try:
        return datetime.date.fromisoformat(str(text)).isoformat() if text else None
    except ValueError:
        return None


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def main():
    plugins, packages = {}, {}

    def package(name):
        return packages.setdefault(name, {"name": name, "versions": {}})

    def version(pkg, ver):
        return pkg["versions"].setdefault(ver, {"version": ver, "dependencies": {}, "peerDependencies": {}})

    # Red Hat's marketplace: plugins with docs and support levels, packages with roles.
    for path in sorted(glob.glob(os.path.join(MARKET, "workspaces/*/metadata/*.yaml"))):
        doc = load_yaml(path)
        if not doc or doc.get("kind") != "Package":
            continue
        spec = doc["spec"]
        pkg = package(spec["packageName"])
        backstage = spec.get("backstage") or {}
        pkg["role"] = backstage.get("role")
        pkg["title"] = doc["metadata"].get("title")
        pkg["plugins"] = spec.get("partOf") or []
        v = version(pkg, str(spec["version"]))
        if backstage.get("supportedVersions"):
            v["supportedBackstage"] = str(backstage["supportedVersions"])
        if spec.get("dynamicArtifact"):
            v["artifact"] = spec["dynamicArtifact"]
        examples = spec.get("appConfigExamples") or []
        if examples:
            pkg["configExample"] = examples[0].get("content")

    for path in sorted(glob.glob(os.path.join(MARKET, "catalog-entities/extensions/plugins/*.yaml"))):
        doc = load_yaml(path)
        if not doc or doc.get("kind") != "Plugin":
            continue
        meta, spec = doc["metadata"], doc.get("spec") or {}
        docs = [d.get("markdown", "") for d in spec.get("documentation") or [] if d.get("markdown")]
        names = []
        for p in spec.get("packages") or []:
            name = p if isinstance(p, str) else p.get("name")
            # Packages are listed by entity name; map back to npm names.
            hit = next((k for k, v in packages.items() if slug(k.lstrip("@").replace("/", "-")) == name), None)
            if hit:
                names.append(hit)
        support = (spec.get("support") or {}).get("level") if isinstance(spec.get("support"), dict) else spec.get("support")
        plugins[meta["name"]] = {
            "id": meta["name"],
            "title": meta.get("title") or meta["name"],
            "summary": (meta.get("description") or "").strip(),
            "docs": "\n\n".join([(spec.get("description") or "").strip()] + docs).strip(),
            "categories": spec.get("categories") or [],
            "highlights": spec.get("highlights") or [],
            "tags": meta.get("tags") or [],
            "author": spec.get("author") or ", ".join(a["name"] if isinstance(a, dict) else a for a in spec.get("authors") or []) or None,
            "support": SUPPORT.get(support or "", "community"),
            "lifecycle": spec.get("lifecycle"),
            "links": [{"title": l.get("title") or l["url"], "url": l["url"]} for l in meta.get("links") or []],
            "packages": names,
            "source": "rhdh-extensions",
        }

    # backstage.io's directory and the derived package metadata.
    compact = json.load(open(os.path.join(DATA, "backstage-plugins/plugins-compact.json")))
    owned = {n for p in plugins.values() for n in p["packages"]}
    for entry in compact:
        # Red Hat's dynamic-plugin wrappers are build inputs, not packages anyone installs.
        if entry["sources"] == ["rhdh wrapper package.json"]:
            continue
        # A few directory entries give the npm page's URL instead of the name.
        name = entry["npmPackage"].removeprefix("https://www.npmjs.com/package/")
        pkg = package(name)
        pkg.setdefault("role", entry.get("role"))
        if entry.get("role") and not pkg.get("role"):
            pkg["role"] = entry["role"]
        if entry.get("version"):
            v = version(pkg, entry["version"])
            for dep, rng in (entry.get("backstageDeps") or {}).items():
                v["dependencies"].setdefault(dep, rng if isinstance(rng, str) else rng.get("resolved") or rng.get("range"))
        if name in owned:
            continue
        pid = entry.get("marketplacePlugin") or slug(re.sub(r"^@[^/]+/", "", name).replace("backstage-plugin-", "").replace("plugin-", ""))
        if pid in plugins:
            if name not in plugins[pid]["packages"]:
                plugins[pid]["packages"].append(name)
            continue
        plugins[pid] = {
            "id": pid,
            "title": entry.get("title") or name,
            "summary": entry.get("description") or "",
            "docs": entry.get("description") or "",
            "categories": [entry["category"]] if entry.get("category") else entry.get("marketplaceCategories") or [],
            "highlights": [],
            "tags": entry.get("tags") or [],
            "author": entry.get("author"),
            "support": SUPPORT.get(entry.get("supportLevel") or "", "community"),
            "lifecycle": entry.get("lifecycle"),
            "links": [{"title": "Documentation", "url": entry["documentation"]}] if entry.get("documentation") else [],
            "packages": [name] + [p for p in entry.get("pluginPackages") or [] if p != name],  # main first
            "added": valid_date(entry.get("addedDate")),
            "source": "backstage.io",
        }
        for p in plugins[pid]["packages"]:
            package(p)

    for meta in json.load(open(os.path.join(DATA, "backstage-plugins/package-json-metadata.json"))):
        if meta.get("private") or "/wrappers/" in meta.get("path", ""):
            continue
        pkg = package(meta["name"])
        backstage = meta.get("backstage") or {}
        pkg["role"] = pkg.get("role") or backstage.get("role")
        v = version(pkg, meta["version"])
        v["backstage"] = backstage or None
        for dep, info in (meta.get("backstageDeps") or {}).items():
            v["dependencies"][dep] = info.get("resolved") or info.get("range")
        v["peerDependencies"].update(meta.get("peerDependencies") or {})

    collections = []
    for path in sorted(glob.glob(os.path.join(MARKET, "catalog-entities/extensions/collections/*.yaml"))):
        doc = load_yaml(path)
        if doc and doc.get("kind") == "PluginCollection":
            ids = [p for p in doc["spec"].get("plugins") or [] if p in plugins]
            if ids:
                collections.append({"id": doc["metadata"]["name"], "title": doc["metadata"].get("title"), "plugins": ids})

    document = {
        "releases": releases(),
        "plugins": sorted(plugins.values(), key=lambda p: p["id"]),
        "packages": [
            dict(p, versions=sorted(p["versions"].values(), key=lambda v: semver_key(v["version"])))
            for p in sorted(packages.values(), key=lambda p: p["name"])
        ],
        "collections": collections,
    }
    with gzip.open(OUT, "wt") as f:
        json.dump(document, f, separators=(",", ":"), sort_keys=True)
    print(f"{len(document['releases'])} releases, {len(plugins)} plugins, {len(packages)} packages, "
          f"{sum(len(p['versions']) for p in packages.values())} versions, {len(collections)} collections -> {OUT}")


main()
