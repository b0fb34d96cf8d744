#!/usr/bin/env bash
# Reproduce data/churn/mlc_churn.csv from Debian's r-cran-modeldata 1.1.0-1
# without installing R.
#
# The package keeps its data sets in an R lazy-load database
# (usr/lib/R/site-library/modeldata/data/Rdata.rdx + Rdata.rdb).
# The .rdx index is a gzip'd RDS list: variables$mlc_churn = c(offset, length)
# into the .rdb, compressed = 3. Each .rdb record is a 4-byte big-endian
# uncompressed length, a 1-byte type ('Z' = xz, i.e. a raw LZMA2 stream with
# R's preset 9|extreme), then the compressed RDS serialization of the object.
# The RDS is parsed with `rdata` from PyPI; factor columns become their labels.
#
# Usage: scripts/data/mlc_churn_csv.sh [OUT_CSV]
#   OUT_CSV defaults to <repo>/data/churn/mlc_churn.csv
#   ABCALL_DATA_VENV overrides the venv (default $HOME/.cache/abcall/peers-venv-data)
# Needs: apt-get (Debian bookworm lists; run `apt-get update` once), dpkg, python3.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$REPO/data/churn/mlc_churn.csv}"
VENV="${ABCALL_DATA_VENV:-$HOME/.cache/abcall/peers-venv-data}"
PKG_VERSION="1.1.0-1"
DEB="r-cran-modeldata_${PKG_VERSION}_all.deb"
DEB_SHA256="66c2e08bb4bf695d972b1e72ea44d5af9ada3c42841793d3871017f7b896bf95"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# 1. Fetch and unpack the .deb (no install, no R).
( cd "$TMP" && apt-get download "r-cran-modeldata=${PKG_VERSION}" )
echo "${DEB_SHA256}  $TMP/$DEB" | sha256sum -c -
dpkg -x "$TMP/$DEB" "$TMP/x"
DATA_DIR="$TMP/x/usr/lib/R/site-library/modeldata/data"

# 2. Python reader in a venv with pinned versions.
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q rdata==1.1.0 pandas==3.1.1 numpy==2.4.6 xarray==2026.9.0

# 3. Extract mlc_churn from the lazy-load DB and write the CSV.
mkdir -p "$(dirname "$OUT")"
"$VENV/bin/python" -W ignore - "$DATA_DIR" "$OUT" <<'PY'
import gzip, lzma, struct, sys
import pandas as pd
import rdata

data_dir, out = sys.argv[1], sys.argv[2]

def parse(raw):
    return rdata.conversion.convert(rdata.parser.parse_data(raw))

with open(f"{data_dir}/Rdata.rdx", "rb") as f:
    index = parse(gzip.decompress(f.read()))
assert int(index["compressed"][0]) == 3, index["compressed"]
off, length = (int(v) for v in index["variables"]["mlc_churn"])
with open(f"{data_dir}/Rdata.rdb", "rb") as f:
    f.seek(off)
    blob = f.read(length)
n = struct.unpack(">I", blob[:4])[0]
kind = blob[4:5]
if kind == b"Z":
    raw = lzma.decompress(blob[5:], format=lzma.FORMAT_RAW,
                          filters=[{"id": lzma.FILTER_LZMA2,
                                    "preset": 9 | lzma.PRESET_EXTREME}])
elif kind == b"0":
    raw = blob[5:]
else:
    raise SystemExit(f"unsupported record type {kind!r}")
assert len(raw) == n, (len(raw), n)

df = parse(raw)
assert isinstance(df, pd.DataFrame)
# Factors -> their labels (strings), never integer codes.
for c in df.columns:
    if isinstance(df[c].dtype, pd.CategoricalDtype):
        df[c] = df[c].astype(str)
assert df.notna().all().all(), "unexpected missing values"
assert df.shape == (5000, 20), df.shape
counts = df["churn"].value_counts().to_dict()
assert counts == {"no": 4293, "yes": 707}, counts
df.to_csv(out, index=False, encoding="utf-8", lineterminator="\n")
print(f"wrote {out}: {len(df)} rows x {df.shape[1]} columns; churn {counts}")
print("columns:", ",".join(df.columns))
PY
sha256sum "$OUT"
