#!/bin/bash
# Time examples/dcm2nii against dcm2niix on the same folders, alternating
# which runs first, with the same output compression (gzip level 1, or none).
# Usage: bench_dcm2niix.sh DCM2NII_BINARY ROUNDS DIR...
# Prints: case side compression wall-s user-s sys-s peak-RSS-KiB.
set -e
bin=$1; rounds=$2; shift 2
for dir in "$@"; do
  for comp in gz1 none; do
    for r in $(seq 1 "$rounds"); do
      for side in $( ((r % 2)) && echo "ours peer" || echo "peer ours"); do
        out=$(mktemp -d)
        if [ $side = ours ]; then
          if [ $comp = gz1 ]; then args=""; else args="-nogz"; fi
          /usr/bin/time -f "%e %U %S %M" -o $out.t "$bin" -in "$dir" -out "$out" $args >/dev/null 2>&1 || true
        else
          if [ $comp = gz1 ]; then args="-z i -1"; else args="-z n"; fi
          /usr/bin/time -f "%e %U %S %M" -o $out.t dcm2niix $args -o "$out" "$dir" >/dev/null 2>&1 || true
        fi
        echo "$(basename $dir) $side $comp $(tail -1 $out.t)"
        rm -rf "$out" "$out.t"
      done
    done
  done
done
