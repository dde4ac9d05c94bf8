#!/usr/bin/env bash
# Rename the old flat GAN `model.*` keys to their architecture sub-blocks (tools/rename_config_keys.sed) in FILE...
# Files of the translation tasks (pix2pix / CycleGAN have their own `model.ngf`) are skipped and listed.
set -euo pipefail
script="$(dirname "$0")/rename_config_keys.sed"
for file in "$@"; do
  if [[ "$file" == *translation* ]] || grep -qE 'jaxgan\.translation|base_config\("(pix2pix|cyclegan)"\)' "$file"; then
    echo "skipped (translation): $file" >&2
    continue
  fi
  sed -i -E -f "$script" "$file"
done
