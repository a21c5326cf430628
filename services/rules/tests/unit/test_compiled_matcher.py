"""The compiled matcher against its Python source: the same candidates, scores and explanations.

`make install` compiles the matcher's hot modules with Cython (shared/compiled.py). The source stays
the reference: each side runs in its own process on the same registry and queries, and what they
return must be identical, down to the bytes of the screening file.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from shared import compiled

# Every path of the matcher: exact names, forms, branches, fuzzy blocks, addresses and provinces, codes
# (valid, invalid, as the name), verdicts both ways, removed and replaced organisations, placeholders.
SCRIPT = r"""
import hashlib, json, sys
from pathlib import Path
from certwatch.demo.evalset import queries, registry, write_csv
from services.rules.matcher.index import RegistryIndex, RegistryRecord, subject_key
from services.rules.matcher.screening import read_registry, screen_files
from shared.compiled import COMPILED, is_compiled

folder = Path(sys.argv[1])
orgs = registry(3000)
asked = queries(orgs, sample=150)
registry_path, input_path = write_csv(orgs, asked, folder)
index = RegistryIndex.build(read_registry(registry_path))
extra = [
    RegistryRecord("BR1", "浙江宏远电器有限公司宁波分公司", None, (), "浙江省宁波市", "浙江", "宁波"),
    RegistryRecord("P1", "浙江宏远电器有限公司", None, ("宁波宏远家电有限公司",), "浙江省宁波市鄞州区"),
    RegistryRecord("P2", "宏远电器（中国）有限公司", None, (), None, None, None, (("manufacturer", "广东宏远电器厂"),)),
    RegistryRecord("P3", "上海宏远电器股份有限公司", None, (), "上海市"),
    RegistryRecord("P4", "Robert Bosch GmbH", None, (), None),
    RegistryRecord("P5", "宁波ABC电器有限公司", None, (), "浙江省宁波市"),
]
for record in extra:
    index.upsert(record)
for org in orgs[:40]:
    index.remove(org.org_id)
for org in orgs[40:60]:
    index.upsert(org.record()._replace(name=org.name.replace("有限公司", "股份有限公司")))
kept = {org.org_id for org in orgs[60:]}
rejected = next(q for q in asked if q.expected in kept and q.variant == "exact")
confirmed = next(q for q in asked if q.expected in kept and q.variant == "branch" and q.expected != rejected.expected)
index.verdicts[(subject_key(rejected.name), rejected.expected)] = False
index.verdicts[(subject_key(confirmed.name), confirmed.expected)] = True
names = [(q.name, q.credit_code or None, None, None) for q in asked]
names += [(q.name, None, org.record().address, org.province) for q, org in zip(asked, orgs)]
names += [(q.name, "91330200MA2AAAAAA1", None, "北京") for q in asked[:100]]
names += [(org.code, None, None, None) for org in orgs[:50]] + [(r.name, None, None, None) for r in extra]
names += [("浙江宏远电器有限公司（宁波）分公司", None, None, None), ("宏远电器（浙江）有限公司", None, "浙江", None),
          ("上海宏远电器有限公司", None, None, None), ("广东宏远电器厂", None, None, None), ("/", None, None, None), ("", "bad", None, None),
          ("温州市宏远电器有限公司", None, None, None), ("吉林市宏远电器有限公司", None, None, None), ("浙江宏电器有限公司", None, None, None),
          ("ROBERT BOSCH GMBH", None, None, None), ("Robert Bosch Co., Ltd.", None, None, None), ("宁波ａｂｃ电器有限公司", None, None, None),
          ("Ningbo ABC Electric Appliance Co., Ltd.", None, None, None), ("ABC Electric (Guangzhou) Co Ltd", None, None, None),
          ("浙江宏远电器有限司", None, None, None), ("宏远（宁波）电器有限公司", None, None, None),
          ("鄞州区宏远电器有限公司", None, None, None), ("宏远电器股有限公司", None, None, None),
          ("委托方：浙江宏远电器有限公司；受委托方：上海宏远电器股份有限公司", None, None, None)]
found = [[(c.org_id, repr(c.score), c.decision.value, c.method, c.matched_name, c.evidence) for c in index.match(*n)]
         for n in names]
summary = screen_files(input_path, folder / "out.csv", index=index)
print(json.dumps({
    "compiled": [m for m in COMPILED if is_compiled(sys.modules[m])],
    "found": found,
    "summary": [summary.records, summary.decisions, summary.problems],
    "screened": hashlib.sha256((folder / "out.csv").read_bytes()).hexdigest(),
}, ensure_ascii=False))
"""


def _run(folder: Path, pure: bool) -> dict[str, Any]:
    env = {**os.environ, compiled.PURE_PYTHON: "1" if pure else ""}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder)],
        cwd=compiled.ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _built() -> bool:
    return all(compiled.extension_of(m).exists() for m in compiled.COMPILED)


def test_the_matcher_is_compiled_where_it_was_built() -> None:
    """CI runs `make install`: a build that failed there must fail here, not leave the slow source running."""
    if os.environ.get(compiled.PURE_PYTHON):
        pytest.skip(f"{compiled.PURE_PYTHON} asks for the Python source")
    if not _built() and not os.environ.get("CI"):
        pytest.skip("the matcher is not compiled here: `make install` compiles it")
    assert not [m for m in compiled.COMPILED if compiled.stale(m)], "a compiled module is older than its source"
    assert all(compiled.is_compiled(importlib.import_module(m)) for m in compiled.COMPILED)


def test_the_compiled_matcher_returns_what_its_source_returns(tmp_path: Path) -> None:
    if not _built():
        pytest.skip("the matcher is not compiled here: `make install` compiles it")
    reference = _run(tmp_path / "py", pure=True)
    built = _run(tmp_path / "c", pure=False)
    assert reference["compiled"] == [] and built["compiled"] == list(compiled.COMPILED)
    found = reference["found"]
    assert isinstance(found, list) and sum(1 for f in found if f) > 500  # the comparison compares something
    decisions = {c[2] for f in found for c in f}
    methods = {c[3] for f in found for c in f}
    assert decisions == {"match", "review", "none"}
    assert {"credit_code", "name:name", "name:former", "name:manufacturer", "name:fuzzy", "name:other_form",
            "branch", "verdict"} <= methods  # fmt: skip
    for at, (expected, got) in enumerate(zip(found, built["found"], strict=True)):
        assert got == expected, at
    assert (built["summary"], built["screened"]) == (reference["summary"], reference["screened"])


def test_a_build_older_than_its_source_is_stale(tmp_path: Path) -> None:
    source, built = tmp_path / "index.py", tmp_path / "index.so"
    source.write_text("x = 1\n")
    assert compiled.older(built, source)  # never built
    built.write_bytes(b"")
    os.utime(source, (time.time() + 10, time.time() + 10))
    assert compiled.older(built, source)  # the source changed after the build
    os.utime(built, (time.time() + 20, time.time() + 20))
    assert not compiled.older(built, source)


def test_the_source_is_loaded_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compiled.PURE_PYTHON, "1")
    spec = compiled._SourceUnlessFresh().find_spec("services.rules.matcher.index", None)
    assert spec is not None and spec.origin == str(compiled.source_of("services.rules.matcher.index"))
    assert compiled._SourceUnlessFresh().find_spec("services.rules.matcher.thread", None) is None
