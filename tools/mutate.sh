#!/usr/bin/env bash
# Mutation testing of one paper's method modules against that paper's tests:
#   make mutate PKG=hopfield [FILES="retrieval.py layers.py"]
# Runs mutmut in a private copy of the tree (/tmp/paperzoo-mutate-PKG), so several packages can be
# mutated at once and the checkout is never touched. Prints killed / total per file.
set -euo pipefail
PKG="${1:?usage: tools/mutate.sh PKG [FILE ...]}"; shift || true
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="src/paperzoo/papers/$PKG"
[ -d "$ROOT/$SRC" ] || { echo "no package $SRC"; exit 2; }
TEST="tests/papers/test_$PKG.py"
[ -f "$ROOT/$TEST" ] || { echo "no test file $TEST"; exit 2; }
if [ "$#" -eq 0 ]; then  # default: every module except the declarations, protocols, plots and benchmarks
  set -- $(cd "$ROOT/$SRC" && ls *.py | grep -vE '^(__init__|reproduce|bench|plots?)\.py$')
fi
WORK="/tmp/paperzoo-mutate-$PKG"
rm -rf "$WORK"; mkdir -p "$WORK"
cp -r "$ROOT/src" "$ROOT/tests" "$WORK/"
PATHS=""; for f in "$@"; do PATHS="$PATHS    $SRC/$f"$'\n'; done
cat > "$WORK/setup.cfg" <<CFG
[mutmut]
source_paths =
    src
only_mutate =
$PATHS
pytest_add_cli_args_test_selection =
    $TEST
pytest_add_cli_args =
    -q
    -x
    -p
    no:cacheprovider
    -m
    not slow
CFG
printf '[tool.pytest.ini_options]\ntestpaths = ["tests"]\nmarkers = ["slow: slow"]\n' > "$WORK/pyproject.toml"
cd "$WORK"
mkdir -p "$WORK/mutants/src"  # must exist before Python starts, or the editable install wins
export PYTHONPATH="$WORK/mutants/src:${PYTHONPATH:-}" PAPERZOO_PROGRESS=0
"$ROOT/.venv/bin/mutmut" run --max-children "${MUTATE_JOBS:-2}" > "$WORK/run.log" 2>&1 || { tail -30 "$WORK/run.log"; exit 1; }
"$ROOT/.venv/bin/mutmut" results --all true > "$WORK/results.txt" 2>&1 || true
"$ROOT/.venv/bin/python" - "$WORK/results.txt" "$@" <<'PY'
import collections, re, sys
lines = open(sys.argv[1]).read().splitlines()
per = collections.defaultdict(collections.Counter)
for ln in lines:
    m = re.match(r"\s*(\S+?)__mutmut_\d+: (\w[\w ]*)", ln)
    if m:
        mod = m.group(1).split(".x")[0].split(".xǁ")[0]
        per[mod.rsplit(".", 1)[0] if "ǁ" in mod else mod][m.group(2).strip()] += 1
tot = collections.Counter()
for mod, c in sorted(per.items()):
    n = sum(c.values()); tot.update(c)
    print(f"{mod}: killed {c['killed']}/{n} ({100 * c['killed'] / max(n, 1):.0f}%)  " + ", ".join(f"{k} {v}" for k, v in c.items() if k != "killed"))
n = sum(tot.values())
print(f"TOTAL: killed {tot['killed']}/{n} ({100 * tot['killed'] / max(n, 1):.0f}%)  survivors: `cd {sys.argv[1].rsplit('/', 1)[0]} && mutmut results` / `mutmut show NAME`")
PY
